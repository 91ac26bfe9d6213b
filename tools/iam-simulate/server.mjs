// Evaluates IAM requests for the local harness: one JSON object a line in, one a line out.
// In:  {"id": n, "simulation": <iam-simulate Simulation>}
// Out: {"id": n, "result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied", "errors"?: ...}
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  let id = null
  try {
    const request = JSON.parse(line)
    id = request.id
    const response = await runSimulation(request.simulation, {})
    if (response.resultType === 'error') {
      process.stdout.write(JSON.stringify({ id, result: 'Error', errors: response.errors }) + '\n')
    } else {
      process.stdout.write(JSON.stringify({ id, result: response.overallResult }) + '\n')
    }
  } catch (error) {
    process.stdout.write(JSON.stringify({ id, result: 'Error', errors: { message: String(error) } }) + '\n')
  }
}
