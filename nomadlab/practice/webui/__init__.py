"""The practice web UI: what Nomad's UI shows at ``/ui/``, served by the practice agent.

Server-rendered pages (tornado templates) kept live by blocking queries on the state
store, relative URLs only, every asset vendored. ``status`` holds Nomad's UI logic as pure
functions; ``handlers`` the pages and their routes.
"""

from nomadlab.practice.webui.handlers import routes

__all__ = ["routes"]
