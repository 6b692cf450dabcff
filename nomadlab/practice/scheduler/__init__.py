"""The scheduler: evaluations in, allocations out (Nomad's ``scheduler/``).

``generic_sched`` runs the evaluation queue and applies plans, ``reconcile`` decides per task
group, ``feasible`` filters nodes, ``rank`` bin-packs and assigns ports and resources, and
``util`` holds the plan and the records the scheduler builds.
"""

from nomadlab.practice.scheduler.generic_sched import Scheduler
from nomadlab.practice.scheduler.util import is_template, job_summary, stop, update_job_status

__all__ = [
    "Scheduler",
    "is_template",
    "job_summary",
    "stop",
    "update_job_status",
]
