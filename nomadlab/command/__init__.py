"""The ``nomad`` CLI's output, one module per command as Nomad's ``command/`` names them:
pure functions, Nomad's JSON in, the CLI's text out. Nothing here talks to an agent or
holds state; the kit's verbs fetch the data and call these."""
