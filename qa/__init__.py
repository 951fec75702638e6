"""Ask news articles a question; get back verbatim supporting quotes with their sources."""

from .answer import Answer, QuestionError
from .articles import Article, ArticleError, parse_bytes, read_article
from .library import Library, ask, default_library
from .quotes import Quote
from .store import IndexFileError

__all__ = ["ask", "Answer", "Quote", "Article", "Library", "default_library", "read_article",
           "parse_bytes", "ArticleError", "QuestionError", "IndexFileError"]
