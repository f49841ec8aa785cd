"""``symderiv serve``: a local web page over the API, and the JSON API under ``/api/`` (docs/web.md).

The server is the standard library's (:mod:`symderiv.web.server`); every request is computed in a worker
process that is killed when it overruns its wall-clock limit (:mod:`symderiv.web.pool`); the jobs themselves,
what the API answers, are in :mod:`symderiv.web.jobs`; the page is ``static/`` (HTML, CSS, a small script).
"""
