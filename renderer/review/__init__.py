"""Review: reports for people. In: analysed or rendered environments. Out: text, JSON, Mermaid/DOT.

`explain` (why each resource matched what it matched), `graphview` (the resource graph).
"""
