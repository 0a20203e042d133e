"""The relay client: pull, apply, retry. No Textual."""
