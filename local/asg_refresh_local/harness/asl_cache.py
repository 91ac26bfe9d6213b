"""Parse each state machine definition once.

moto's interpreter lexes and parses the ASL with ANTLR when a state machine is created and again
for every execution (a tenth of a second or more each). The parse tree depends only on the
definition text, so it is cached; the evaluation components are built fresh from it for every
execution, because executions keep state in them. Creating a state machine only validates its
definition (builds the components and drops them): a definition that validated once is valid.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from antlr4 import CommonTokenStream, InputStream
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
    from moto.stepfunctions.parser.asl.parse.asl_parser import (
        AmazonStateLanguageParser,
        ASLParserException,
        SyntaxErrorListener,
    )
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    @lru_cache(maxsize=64)
    def parse_tree(definition: str) -> Any:
        listener = SyntaxErrorListener()
        parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
        parser.removeErrorListeners()
        parser.addErrorListener(listener)
        tree = parser.state_machine()
        if listener.errors:
            raise ASLParserException(errors=listener.errors)
        return tree

    def parse(definition: str) -> tuple[Any, Any]:
        tree = parse_tree(definition)
        return Preprocessor().visit(tree), tree

    validate = StepFunctionsParserBackend._validate_definition

    @lru_cache(maxsize=64)
    def validate_once(definition: str) -> None:
        validate(definition)  # raises InvalidDefinition, which is not cached

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]
    StepFunctionsParserBackend._validate_definition = staticmethod(validate_once)  # type: ignore[method-assign]
    _installed = True
