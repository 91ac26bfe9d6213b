// Opens an HTML file in Debian's headless Chromium and prints, as JSON, what a person would see:
// the visible text of the page's headings, summary and table cells, every image's decoded size
// (0 when a picture failed to load), and a screenshot's path and size.
//
//   node check.mjs PAGE.html SCREENSHOT.png
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [page_path, screenshot_path] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // The machine's network is closed: no background calls home, no sandbox as root.
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(pathToFileURL(page_path).href);
  await page.waitForLoadState("load");
  const seen = await page.evaluate(() => {
    const visible = (el) => {
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      return box.width > 0 && box.height > 0 && style.visibility !== "hidden" && style.display !== "none";
    };
    const texts = (selector) => [...document.querySelectorAll(selector)].filter(visible).map((el) => el.innerText.trim());
    return {
      title: document.title,
      headings: texts("h1, h2, h3"),
      summary: texts("#summary")[0] ?? null,
      tables: Object.fromEntries([...document.querySelectorAll("table[id]")].map((table) => [
        table.id,
        [...table.rows].map((row) => [...row.cells].map((cell) => cell.innerText.trim())),
      ])),
      images: [...document.images].map((img) => ({ alt: img.alt, width: img.naturalWidth, height: img.naturalHeight })),
    };
  });
  await page.screenshot({ path: screenshot_path, fullPage: true });
  const size = await page.evaluate(() => ({ width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight }));
  console.log(JSON.stringify({ ...seen, screenshot: { path: screenshot_path, ...size } }));
} finally {
  await browser.close();
}
