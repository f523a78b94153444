"""One module's work, with no graph types: files out of a reply, what a reply already says (precision), and the structural counts of replies."""
