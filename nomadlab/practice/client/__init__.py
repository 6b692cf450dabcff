"""The practice agent's client, laid out as Nomad's ``client/``: the node (``client``), its
alloc and task runners, their hooks (service registration, checks, templates), the
allocation directory, the task environment, the drivers and the reaper that keeps task
processes from outliving the agent.

Empty on purpose: ``python -m nomadlab.practice.client.watchdog`` starts with every agent
and must import little.
"""
