"""The web chat's views, beside `qa/` (which holds no UI code): answer and article rendering
(`web.render`), the Library tab (`web.library_view`), and the page's script and styles
(`page.js`, `page.css`). `app.py` puts them together and serves them."""
