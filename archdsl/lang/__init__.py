"""Text ⇄ AST: the grammar (grammar.lark), the frozen AST (syntax.py), the parser
(parser.py) and the canonical formatter (fmt.py). Torch-free."""
