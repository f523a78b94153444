"""The web kinds (HTML, JavaScript, CSS) and the browser that opens the pages."""
