"""The search page: static HTML, JavaScript and CSS, served at ``/`` by :mod:`omnivec.api.search`.

No build step and no network: the files here are the page, read with ``importlib.resources``.
"""
