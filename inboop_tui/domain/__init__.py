"""Pure domain rules and reducers: no I/O, no Textual, nothing else of the project."""
