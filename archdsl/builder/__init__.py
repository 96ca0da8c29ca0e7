"""AST → IR: the layer vocabulary (words, modifiers, settings), family parameters, block
kinds and placement with shape inference (build.py is the entry point). Torch-free."""
