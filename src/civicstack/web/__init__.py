"""Server-rendered pages (Jinja2 + GOV.UK Frontend, in a neutral brand): an adapter like api/.

* :mod:`.pages` — :class:`Pages` (the environment, :meth:`Pages.render`, the security headers)
  and :class:`Theme` (``CIVIC_BRAND_NAME``, ``CIVIC_BRAND_COLOUR``, ``CIVIC_BRAND_ACCENT``);
* :mod:`.assets` — the built CSS/JS shipped in the package, served with year-long caching;
* ``templates/base.html`` — the layout every page extends (its blocks are listed at its top);
  ``templates/govuk/components.html`` — GOV.UK Frontend's Nunjucks macros ported to Jinja2.

Every core journey works without JavaScript; ``static/civic.js`` only enhances.
"""

from civicstack.web.assets import StaticAssets
from civicstack.web.pages import Pages, Theme

__all__ = ["Pages", "StaticAssets", "Theme"]
