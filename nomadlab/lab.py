"""Lab: the notebook-facing verbs over python-nomad, named after Nomad's CLI commands.

``run`` is ``nomad job run``, ``status`` is ``nomad job status``, ``scale`` is ``nomad job
scale``, ``stop`` is ``nomad job stop``; ``allocations``, ``addresses``/``url``, ``get`` and
``logs`` answer the tutorial's next questions (where is my service, what did it print).
:func:`start` (``nomadlab.start()``) finds or starts an agent and wraps it in a :class:`Lab`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psutil

from nomadlab import agent as agents
from nomadlab import discovery
from nomadlab.agent import RunningAgent
from nomadlab.agent_record import process_of
from nomadlab.allocations import group_tasks, host_ports, pick_label
from nomadlab.cluster import ClusterVerbs
from nomadlab.command import job_history, job_plan, service_info
from nomadlab.command.alloc_fs import format_alloc_dir
from nomadlab.command.helpers import limit
from nomadlab.errors import (
    DeploymentFailed,
    JobNotUpdated,
    NomadAPIError,
    NomadLabError,
    PlacementFailed,
    api_errors,
    say,
)
from nomadlab.jobfiles import declares_variable, find_jobspec, hcl_value
from nomadlab.jupyter_proxy import jupyter_proxy_url
from nomadlab.monitor import Monitor, Outcome, awaits_promotion, unhealthy_reason
from nomadlab.placement import placement_advice
from nomadlab.practice import CLASSROOM
from nomadlab.recording import WAIT, Recorder
from nomadlab.results import JobList, JobStatus, RunResult, Table, Text, allocation_table
from nomadlab.terminal import Ui, default_ui

ENFORCE_INDEX = "Enforcing job modify index"
# The practice agent parses in a worker process; on a busy machine the first one takes seconds
# to start, so a parse waits longer than other calls before it counts as unanswered.
PARSE_TIMEOUT = 60.0


def _is_loopback(address: str) -> bool:
    host = urlsplit(address).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


class Lab(ClusterVerbs):
    """A handle on one Nomad agent (any mode) with the tutorial's verbs (node and alloc verbs
    in :class:`~nomadlab.cluster.ClusterVerbs`)."""

    def __init__(self, agent: RunningAgent | str | None = None, *, quiet: bool = False) -> None:
        """Drive ``agent``: a RunningAgent from :func:`nomadlab.start`, or an address."""
        if agent is None:
            agent = (
                os.environ.get("NOMAD_ADDR") or f"http://{agents.LOOPBACK}:{agents.DEFAULT_PORT}"
            )
        if isinstance(agent, str):
            agent = RunningAgent(mode="attach", address=agents.checked_address(agent))
            agents.identify(agent)
            agent.ui = agents.web_ui(agent)
        self.agent = agent
        self.nomad = agents.agent_client(agent)
        self.quiet = quiet

    @property
    def address(self) -> str:
        """The agent's HTTP API address (``http://127.0.0.1:4646``)."""
        return self.agent.address

    @property
    def mode(self) -> str:
        """``attach``, ``nomad`` or ``practice``."""
        return self.agent.mode

    def __repr__(self) -> str:
        return f"<Lab {self.agent.mode} {self.agent.address}>"

    @contextmanager
    def _api(self) -> Iterator[None]:
        with api_errors(self.address, bool(self.nomad.token)):
            yield

    def _ui(self) -> Ui:
        return default_ui(self.quiet)

    def _monitor(self, ui: Ui) -> Monitor:
        return Monitor(self.nomad, self.address, ui)

    # -- jobs the kit ran, so that reset() can remove them ------------------------------------

    def _registry(self) -> dict[str, list[list[str]]]:
        try:
            return json.loads((agents.home() / "jobs.json").read_text())
        except (OSError, ValueError):
            return {}

    def _remember(self, job_id: str, namespace: str, forget: bool = False) -> None:
        registry = self._registry()
        jobs = [j for j in registry.get(self.address, []) if j != [namespace, job_id]]
        if not forget:
            jobs.append([namespace, job_id])
        registry[self.address] = jobs
        agents.write_private(
            agents.private_dir() / "jobs.json", json.dumps(registry, indent=2) + "\n"
        )

    # -- nomad job run ------------------------------------------------------------------------

    def parse(self, path: str | os.PathLike[str], **variables: Any) -> dict[str, Any]:
        """The Job JSON of a jobspec file, parsed by the agent (``/v1/jobs/parse``)."""
        spec = find_jobspec(path)
        hcl = spec.read_text()
        if "python" not in variables and declares_variable(hcl, "python") and self._local():
            variables["python"] = sys.executable  # the task needs an interpreter with nomadlab
        body = {
            "JobHCL": hcl,
            "Canonicalize": True,
            "Variables": "".join(f"{k} = {hcl_value(v)}\n" for k, v in variables.items()),
        }
        try:
            with self._api():
                answer = self.nomad.jobs.request(
                    "parse", method="post", json=body, timeout=PARSE_TIMEOUT
                )
                return answer.json()
        except NomadAPIError as exc:
            if exc.status == 400:
                raise NomadAPIError(f"{spec}: {exc.body}", exc.status, exc.body) from None
            raise

    def _local(self) -> bool:
        return self.agent.started_by_kit or _is_loopback(self.address)

    def run(self, path: str | os.PathLike[str], *, detach: bool = False,
            timeout: float | None = None, check_index: int | None = None,
            **variables: Any) -> RunResult:  # fmt: skip
        """Parse, register and follow a job like ``nomad job run``; ``variables`` are ``-var``s.

        ``check_index`` is ``-check-index``: register only if the job's modify index is still
        that (the plan's ``Job Modify Index``), else raise JobNotUpdated. Raises
        PlacementFailed (with what to do) when the scheduler cannot place it and
        DeploymentFailed when its allocations never become healthy. A canary deployment
        returns once its canaries are healthy and wait for promotion (``lab.promote``).
        """
        job = self.parse(path, **variables)
        ui = self._ui()
        response = self._register(job, check_index)
        job_id, namespace = job.get("ID", ""), job.get("Namespace") or "default"
        self._remember(job_id, namespace)
        if response.get("Warnings"):
            ui.line(f"Job Warnings:\n{response['Warnings']}\n")
        if self.agent.ui:
            ui.line(f"==> View this job in the Web UI: {self.ui_url(job_id, namespace)}\n")
        eval_id = response.get("EvalID", "")
        if detach or not eval_id:
            ui.line("Job registration successful")
            if eval_id:
                ui.line(f"Evaluation ID: {eval_id}")
            return RunResult(job_id, eval_id, warnings=response.get("Warnings") or "")
        outcome = self._follow(eval_id, ui, timeout, job)
        return self._result(job_id, outcome, response.get("Warnings") or "", job)

    def _register(self, job: dict[str, Any], check_index: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"Job": job}
        if check_index is not None:
            body.update(EnforceIndex=True, JobModifyIndex=check_index)
        try:
            with self._api():
                return self.nomad.jobs.register_job(body)
        except NomadAPIError as exc:
            if ENFORCE_INDEX not in exc.body:
                raise
            raise JobNotUpdated(
                f"{exc.body.strip()}\nJob not updated. Someone changed the job since your plan: "
                "plan again, read what changed, then run with the new index."
            ) from None

    def _follow(self, eval_id: str, ui: Ui, timeout: float | None, job: dict[str, Any]) -> Outcome:
        """Monitor like ``nomad job run``; raise with advice when nothing could be placed."""
        outcome = self._monitor(ui).monitor(eval_id, timeout)
        if outcome.failed_allocs:
            result = self._result(job.get("ID", ""), outcome, "", job, check=False)
            raise PlacementFailed(self._placement_advice(job, outcome), result)
        evaluation = outcome.evaluation
        if evaluation.get("Status") != "complete":
            log = (
                say("lab.agent_log()", f"its log ({self.agent.log_file})")
                if self.agent.log_file
                else "the agent's log"
            )
            reason = evaluation.get("StatusDescription") or "no reason given"
            raise NomadLabError(
                f'Evaluation "{limit(outcome.eval_id)}" of job "{job.get("ID", "")}" ended '
                f'"{evaluation.get("Status")}": {reason}. The scheduler could not process it; '
                f"{log} says why."
            )
        return outcome

    def _result(self, job_id: str, outcome: Outcome, warnings: str, job: dict[str, Any],
                check: bool = True) -> RunResult:  # fmt: skip
        result = RunResult(
            job_id=job_id,
            eval_id=outcome.eval_id,
            eval_status=outcome.evaluation.get("Status", ""),
            deployment_id=outcome.deployment_id,
            deployment_status=outcome.deployment_status,
            allocations=self.allocations(job_id),
            failed_placements=outcome.failed_allocs,
            warnings=warnings,
            exit_code=outcome.exit_code,
        )
        if (
            check
            and outcome.deployment
            and outcome.deployment_status != "successful"
            and not awaits_promotion(outcome.deployment)
        ):
            deployment = outcome.deployment
            with self._api():
                allocs = self.nomad.deployment.get_deployment_allocations(result.deployment_id)
            why = unhealthy_reason(allocs)
            raise DeploymentFailed(
                f'Deployment "{limit(result.deployment_id)}" of job "{job_id}" ended '
                f'"{result.deployment_status}": {deployment.get("StatusDescription", "")}. '
                f"{why or 'Its allocations did not stay healthy.'} "
                + say(
                    f'See what the task printed with lab.logs("{job_id}") and '
                    f'lab.logs("{job_id}", type="stderr"), and its allocations with '
                    f'lab.status("{job_id}")',
                    f"See its allocations with `nomadlab job allocs {job_id}` and what a task "
                    "printed with `nomadlab alloc logs -stderr <alloc-id>`",
                )
                + "; fix the jobspec and run it again.",
                result,
            )
        return result

    def _placement_advice(self, job: dict[str, Any], outcome: Outcome) -> str:
        """What the scheduler could not do and what the learner can do, for this agent."""
        mode = "practice" if self.agent.practice else self.mode
        return placement_advice(job, outcome, mode, self._driver_available)

    def _driver_available(self, driver: str) -> bool:
        try:
            with self._api():
                nodes = self.nomad.nodes.get_nodes()
        except NomadLabError:
            return False
        for node in nodes:
            info = (node.get("Drivers") or {}).get(driver) or {}
            if info.get("Detected") and info.get("Healthy"):
                return True
        return False

    # -- nomad job status / allocations -------------------------------------------------------

    def job_id(self, job: str) -> str:
        """The ID of the job named ``job`` or starting with it (the CLI accepts prefixes)."""
        with self._api():
            jobs = self.nomad.jobs.get_jobs(prefix=job)
        ids = [j["ID"] for j in jobs]
        if job in ids:
            return job
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise NomadLabError(
                f'No job with ID or prefix "{job}" on {self.address}. '
                + say(
                    "lab.status() lists the jobs; lab.run(path) registers one.",
                    "`nomadlab job status` lists the jobs; `nomadlab job run FILE` registers one.",
                )
            )
        raise NomadLabError(f'Prefix "{job}" matched several jobs: {", ".join(ids)}. Say which.')

    def status(self, job: str | None = None) -> JobList | JobStatus:
        """Like ``nomad job status [JOB]``: every job, or one job's summary and allocations."""
        if job is None:
            with self._api():
                return JobList.build(self.nomad.jobs.get_jobs())
        job_id = self.job_id(job)
        with self._api():
            info = self.nomad.job.get_job(job_id)
            summary = self.nomad.job.get_summary(job_id)
            allocs = self.nomad.job.get_allocations(job_id)
            evals = self.nomad.job.get_evaluations(job_id)
            deployment = self.nomad.job.get_deployment(job_id)
            children = None
            if info.get("Periodic") or info.get("ParameterizedJob"):
                children = self.nomad.jobs.get_jobs(prefix=f"{job_id}/")
        return JobStatus.build(info, summary, allocs, evals, deployment, children)

    def _allocs(self, job: str) -> list[dict[str, Any]]:
        with self._api():
            return self.nomad.job.get_allocations(self.job_id(job))

    def allocations(self, job: str) -> Table:
        """The job's allocations, newest first, with the address of each running one."""
        stubs = self._allocs(job)
        addresses = {}
        for stub in stubs:
            if stub.get("ClientStatus") == "running":
                ports = self._ports(stub["ID"])
                addresses[stub["ID"]] = " ".join(
                    f"{lbl}={ip}:{p}" for lbl, (ip, p) in ports.items()
                )
        return allocation_table(stubs, addresses)

    def _ports(self, alloc_id: str) -> dict[str, tuple[str, int]]:
        """Port label → (host IP, port) from the allocation's own AllocatedResources."""
        with self._api():
            alloc = self.nomad.allocation.get_allocation(alloc_id)
        return host_ports(alloc)

    def addresses(self, job: str, port: str | None = None) -> list[str]:
        """``http://ip:port`` of each running allocation's ``port`` label.

        The label defaults to the job's only port, else ``http``; the IP and port come from
        the allocation's AllocatedResources, as the node reported them.
        """
        urls = []
        running = [a for a in self._allocs(job) if a.get("ClientStatus") == "running"
                   and a.get("DesiredStatus") == "run"]  # fmt: skip
        if not running:
            raise NomadLabError(
                f'Job "{job}" has no running allocation, so no address yet. lab.status("{job}") '
                "shows what Nomad is doing with it."
            )
        for alloc in sorted(running, key=lambda a: a.get("Name", "")):
            ports = self._ports(alloc["ID"])
            label = pick_label(ports, port, job)
            ip, number = ports[label]
            host = f"[{ip}]" if ":" in ip else ip
            urls.append(f"http://{host}:{number}")
        return urls

    def url(self, job: str, port: str | None = None) -> str:
        """The address of the job's first running allocation (see :meth:`addresses`)."""
        return self.addresses(job, port)[0]

    def get(
        self, job: str, path: str = "/", port: str | None = None, timeout: float = 10.0
    ) -> Text:
        """GET ``path`` from the job's service at its allocation's address; the reply's text."""
        import requests  # a learner's first call of a service pays for it, not every import

        url = self.url(job, port).rstrip("/") + "/" + path.lstrip("/")
        try:
            response = requests.get(url, timeout=timeout)
        except requests.RequestException as exc:
            raise NomadLabError(
                f'The service of job "{job}" did not answer at {url}: {type(exc).__name__}. '
                f'The task may still be starting or may have failed: lab.logs("{job}", '
                'type="stderr") shows what it printed.'
            ) from None
        return Text(response.text)

    def logs(self, alloc_or_job: str, task: str | None = None, type: str = "stdout") -> Text:
        """What a task printed (``nomad alloc logs``), by allocation ID or by job (newest alloc)."""
        alloc = self._find_alloc(alloc_or_job)
        tasks = sorted((alloc.get("TaskStates") or {}).keys()) or group_tasks(alloc)
        if task is None:
            if len(tasks) != 1:
                raise NomadLabError(
                    f'Allocation "{limit(alloc["ID"])}" runs tasks {", ".join(tasks)}: say which, '
                    f'e.g. lab.logs("{alloc_or_job}", task="{tasks[0] if tasks else "name"}").'
                )
            task = tasks[0]
        with self._api():
            text = self.nomad.client.stream_logs.stream(alloc["ID"], task, type, plain=True)
        return Text(text)

    def _find_alloc(self, alloc_or_job: str) -> dict[str, Any]:
        with self._api():
            jobs = [j["ID"] for j in self.nomad.jobs.get_jobs(prefix=alloc_or_job)]
        if jobs:
            stubs = self._allocs(alloc_or_job)
            if not stubs:
                raise NomadLabError(f'Job "{alloc_or_job}" has no allocations yet, so no logs.')
            order = {"running": 0, "pending": 1}
            best = min(stubs, key=lambda a: (order.get(a.get("ClientStatus", ""), 2),
                                             -a.get("CreateIndex", 0)))  # fmt: skip
            alloc_id = best["ID"]
        else:
            with self._api():
                found = self.nomad.allocations.get_allocations(prefix=alloc_or_job)
            if len(found) != 1:
                raise NomadLabError(
                    f'"{alloc_or_job}" names no job and {"no" if not found else "several"} '
                    "allocations. Pass a job ID or an allocation ID (or its first 8 characters)."
                )
            alloc_id = found[0]["ID"]
        with self._api():
            return self.nomad.allocation.get_allocation(alloc_id)

    def alloc_fs(self, alloc_or_job: str, path: str = "/") -> Text:
        """``nomad alloc fs ALLOC PATH``: a directory's listing, or a file's content."""
        alloc_id = self._find_alloc(alloc_or_job)["ID"]
        fs = self.nomad.client  # python-nomad's /v1/client/fs/{stat,ls,cat} wrappers
        with self._api():
            if fs.stat.stat_file(alloc_id, path).get("IsDir"):
                return Text(format_alloc_dir(fs.ls.list_files(alloc_id, path)))
            return Text(fs.cat.read_file(alloc_id, path))

    # -- nomad service list / info --------------------------------------------------------------

    def services(self) -> Text:
        """Like ``nomad service list``: every service registered in Nomad, with its tags."""
        with self._api():
            stubs, _ = discovery.fetch_service_list(self.nomad)
        return Text(service_info.format_service_list(stubs))

    def service(self, name: str, *, filter: str = "", verbose: bool = False) -> Text:
        """Like ``nomad service info [-filter EXPR] [-verbose] NAME`` (a name or its prefix):
        each registered instance, healthy or not."""
        with self._api():
            stubs, _ = discovery.fetch_service_list(self.nomad, prefix=name)
        names = [s["ServiceName"] for stub in stubs for s in stub["Services"]]
        if not names:
            raise NomadLabError(f'No service registrations with prefix "{name}" found')
        if len(names) > 1 and name not in names:
            raise NomadLabError(
                f"Prefix matched multiple services\n\n{service_info.format_service_list(stubs)}"
            )
        with self._api():
            found, _ = discovery.fetch_service(
                self.nomad, name if name in names else names[0], filter
            )
        return Text(service_info.format_service_info(found, verbose))

    def service_checks(self, alloc_or_job: str) -> Text:
        """The "Nomad Service Checks" section of ``nomad alloc status``: each check's mode
        and latest status, for an allocation (or a job's newest one)."""
        alloc = self._find_alloc(alloc_or_job)
        with self._api():
            results = discovery.fetch_checks(self.nomad, alloc["ID"])
        return Text(service_info.format_service_checks(results) or "No Nomad service checks")

    def record_services(self, name: str) -> discovery.ServiceRecorder:
        """Start recording service ``name``'s registry (instances, passing checks) over time,
        for :func:`nomadlab.plots.services_over_time`; ``.stop()`` ends it."""
        return discovery.ServiceRecorder(self.agent, name).start()

    # -- nomad job scale / stop -----------------------------------------------------------------

    def scale(self, job: str, count: int, group: str | None = None, *,
              timeout: float | None = None) -> RunResult:  # fmt: skip
        """Like ``nomad job scale JOB [GROUP] COUNT``: set a group's count, follow the rollout."""
        job_id = self.job_id(job)
        with self._api():
            scale = self.nomad.job.request(job_id, "scale", method="get").json()
        groups = sorted((scale.get("TaskGroups") or {}).keys())
        group = self.choose_group(
            job_id, groups, group,
            say(f'lab.scale("{job_id}", {count}, group="{{group}}")',
                f"`nomadlab job scale {job_id} {{group}} {count}`"),
        )  # fmt: skip
        response = self.submit_scale(
            job_id, group, count, "submitted using nomadlab",
            "Wait for the current deployment to finish ("
            + say(f'lab.status("{job_id}")', f"`nomadlab job status {job_id}`")
            + ") and scale again.",
        )  # fmt: skip
        ui = self._ui()
        with self._api():
            job_info = self.nomad.job.get_job(job_id)
        outcome = self._follow(response.get("EvalID", ""), ui, timeout, job_info)
        return self._result(job_id, outcome, response.get("Warnings") or "", job_info)

    @staticmethod
    def choose_group(job_id: str, groups: list[str], group: str | None, example: str) -> str:
        """The task group to scale: ``group`` if the job has it, else the job's only one;
        ``example`` (with ``{group}``) shows how to name one when there are several."""
        if group is None:
            if len(groups) != 1:
                raise NomadLabError(
                    f'Job "{job_id}" has task groups {", ".join(groups)}: say which to scale, '
                    f"e.g. {example.format(group=groups[0])}."
                )
            return groups[0]
        if group not in groups:
            raise NomadLabError(
                f'Job "{job_id}" has no task group "{group}"; its groups: {", ".join(groups)}.'
            )
        return group

    def submit_scale(
        self, job_id: str, group: str, count: int, message: str, when_busy: str
    ) -> dict[str, Any]:
        """Send ``nomad job scale``'s request, without following it; ``when_busy`` tells the
        learner what to do if Nomad refuses because a deployment is still active."""
        body = {"Count": count, "Target": {"Job": job_id, "Group": group}, "Message": message}
        try:
            with self._api():
                return self.nomad.job.request(job_id, "scale", method="post", json=body).json()
        except NomadAPIError as exc:
            if "active deployment" in exc.body:
                raise NomadAPIError(f"{exc} {when_busy}", exc.status, exc.body) from None
            raise

    def stop(self, job: str, purge: bool = False) -> RunResult:
        """Like ``nomad job stop [-purge] JOB``: stop its allocations (and forget it if purged)."""
        job_id = self.job_id(job)
        with self._api():
            info = self.nomad.job.get_job(job_id)
            response = self.nomad.job.deregister_job(job_id, purge=purge or None)
        if purge:
            self._remember(job_id, info.get("Namespace") or "default", forget=True)
        eval_id = response.get("EvalID", "")
        if not eval_id:
            return RunResult(job_id)
        outcome = self._monitor(self._ui()).monitor(eval_id)
        with self._api():  # by ID: a purged job's allocations are still listed under it
            listed = self.nomad.job.get_allocations(job_id)
        # Only this instance's: allocations of an earlier job of that name predate its creation.
        stopped = [a for a in listed if a.get("CreateIndex", 0) >= info.get("CreateIndex", 0)]
        return RunResult(
            job_id,
            eval_id,
            eval_status=outcome.evaluation.get("Status", ""),
            allocations=allocation_table(stopped),
        )

    # -- updating a job: plan, history, revert, promote, fail -----------------------------------

    def plan(self, path: str | os.PathLike[str], **variables: Any) -> dict[str, Any]:
        """Like ``nomad job plan PATH``: print the diff, the scheduler's dry run and the
        ``-check-index`` hint; return the plan (its ``JobModifyIndex`` feeds ``run``)."""
        given = dict(variables)
        job = self.parse(path, **variables)
        with self._api():
            result = self.nomad.job.plan_job(job["ID"], {"Job": job}, diff=True)
        self._ui().line(
            job_plan.format_plan(result, str(path), job_plan.run_args(given), job_type=job["Type"])
        )
        return result

    def history(self, job: str, p: bool = False, full: bool = False) -> Text:
        """Like ``nomad job history [-p] [-full] JOB``: every version, with diffs if ``p``."""
        job_id = self.job_id(job)
        with self._api():
            params = {"diffs": "true"} if p else None
            found = self.nomad.job.request(job_id, "versions", params=params, method="get").json()
        return Text(job_history.format_history(found["Versions"], found.get("Diffs"), full))

    def revert(self, job: str, version: int, enforce_prior_version: int | None = None,
               timeout: float | None = None) -> RunResult:  # fmt: skip
        """Like ``nomad job revert JOB VERSION``: register that version again, follow it."""
        job_id = self.job_id(job)
        with self._api():
            response = self.nomad.job.revert_job(job_id, version, enforce_prior_version)
            info = self.nomad.job.get_job(job_id)
        outcome = self._follow(response.get("EvalID", ""), self._ui(), timeout, info)
        return self._result(job_id, outcome, response.get("Warnings") or "", info)

    def latest_deployment(self, job: str) -> dict[str, Any]:
        """The job's latest deployment (``nomad job status``'s "Latest Deployment")."""
        job_id = self.job_id(job)
        with self._api():
            deployment = self.nomad.job.get_deployment(job_id)
        if not deployment:
            raise NomadLabError(f'Job "{job_id}" has no deployment (it has never been updated).')
        return deployment

    def promote(self, job: str, groups: list[str] | None = None,
                timeout: float | None = None) -> RunResult:  # fmt: skip
        """Like ``nomad deployment promote``: promote the canaries of the job's latest
        deployment (all groups, or ``groups``) and follow the rest of the rollout."""
        deployment = self.latest_deployment(job)
        with self._api():
            if groups:
                response = self.nomad.deployment.promote_deployment_groups(deployment["ID"], groups)
            else:
                response = self.nomad.deployment.promote_deployment_all(deployment["ID"])
        return self._follow_deployment_change(deployment, response, timeout)

    def fail(self, job: str, timeout: float | None = None) -> RunResult:
        """Like ``nomad deployment fail``: fail the job's active deployment (auto-revert, if
        its update block asks for it, rolls back to the last stable version)."""
        deployment = self.latest_deployment(job)
        with self._api():
            response = self.nomad.deployment.fail_deployment(deployment["ID"])
        return self._follow_deployment_change(deployment, response, timeout, check=False)

    def _follow_deployment_change(
        self, deployment: dict, response: dict, timeout: float | None, check: bool = True
    ) -> RunResult:
        job_id = deployment["JobID"]
        with self._api():
            info = self.nomad.job.get_job(job_id)
        if not response.get("EvalID"):
            return RunResult(job_id, deployment_id=deployment["ID"])
        outcome = self._follow(response["EvalID"], self._ui(), timeout, info)
        return self._result(job_id, outcome, "", info, check=check)

    def reset(self) -> list[str]:
        """Stop and purge every job the kit ran on this agent; return their IDs."""
        purged = []
        with self._api():
            existing = {
                (j.get("Namespace") or "default", j["ID"]) for j in self.nomad.jobs.get_jobs()
            }
        for namespace, job_id in self._registry().get(self.address, []):
            if (namespace, job_id) in existing:
                with self._api():
                    self.nomad.job.deregister_job(job_id, namespace=namespace, purge=True)
                purged.append(job_id)
            self._remember(job_id, namespace, forget=True)
        if not self.quiet:
            print(
                f"Purged {len(purged)} job(s): {', '.join(purged)}"
                if purged
                else "No jobs to purge"
            )
        return purged

    # -- the agent ------------------------------------------------------------------------------

    def stop_agent(self) -> bool:
        """Stop the agent if the kit started it (its jobs go with it); never an attached one."""
        if not self.agent.started_by_kit:
            if not self.quiet:
                print(f"nomadlab did not start the agent at {self.address}; leaving it running.")
            return False
        stopped = agents.stop(self.agent)
        registry = self._registry()
        if registry.pop(self.address, None) is not None:
            agents.write_private(agents.home() / "jobs.json", json.dumps(registry, indent=2) + "\n")
        if not self.quiet:
            print(f"Stopped the {self.mode} agent (pid {self.agent.pid})." if stopped
                  else "The agent had already stopped.")  # fmt: skip
        return stopped

    def ui_url(self, job: str | None = None, namespace: str = "default", *,
               notebook: bool = False) -> str:  # fmt: skip
        """The web UI's page for ``job`` (or its jobs list), as ``nomad ui [job]`` opens it.

        ``notebook``: the address a notebook's browser can reach, through Jupyter's proxy
        when the kernel runs behind one (Binder, JupyterHub) and the agent is local.
        """
        if not self.agent.ui:
            raise NomadLabError(
                f"The agent at {self.address} serves no web UI (it answered /ui/ with an "
                "error). On a Nomad agent, enable it with ui { enabled = true }."
            )
        base = self.agent.ui
        if notebook and self._local():
            base = jupyter_proxy_url(self.address) or base
        if job is None:
            return base + "jobs"
        return f"{base}jobs/{quote(self.job_id(job), safe='')}@{quote(namespace, safe='')}"

    def ui(self, job: str | None = None, height: int = 600) -> str:
        """Show the web UI (a job's page, or the jobs list) in the notebook; return its URL."""
        url = self.ui_url(job, notebook=True)
        from IPython.display import IFrame, display  # in a notebook only

        display(IFrame(url, width="100%", height=height))
        return url

    def agent_log(self, lines: int | None = 40) -> Text:
        """The last ``lines`` lines of the agent's log (None: all); path: lab.agent.log_file."""
        path = self.agent.log_file
        if path is None:
            raise NomadLabError(
                f"nomadlab did not start the agent at {self.address}, so it has no log of it: "
                "look where that agent's operator sends its output."
            )
        text = path.read_text(errors="replace") if path.exists() else ""
        kept = text.splitlines()[-lines:] if lines else text.splitlines()
        return Text("\n".join(kept))


def start(mode: str | None = None, *, port: int | None = None, timeout: float = 60.0,
          quiet: bool = False) -> Lab:  # fmt: skip
    """Get a working agent in any mode and a :class:`~nomadlab.lab.Lab` to drive it.

    ``NOMAD_ADDR`` set → attach; else reuse the agent the kit started earlier; else start
    ``nomad agent -dev`` if ``nomad`` is on PATH, or the practice agent. ``mode`` (or
    ``NOMADLAB_AGENT``) forces ``"nomad"``, ``"practice"`` or ``"attach"``; ``port`` (or
    ``NOMADLAB_PORT``) picks the HTTP port of an agent it starts (default 4646).
    """
    agent = agents.connect(mode, port=port, timeout=timeout)
    if not quiet:
        print(agent.describe())
    return Lab(agent)


def watch(lab: Lab, job: str, group: str | None = None, *, wait: str = WAIT) -> Recorder:
    """Start recording ``job``'s allocation counts; use as ``with watch(lab, job) as rec:``.

    ``group`` limits the counts to one task group. Stop with ``rec.stop()`` (or the end of
    the ``with`` block), then chart ``rec.samples`` with :func:`nomadlab.plots.counts_over_time`.
    """
    return Recorder(lab.agent, job, group, wait=wait).start()


def several_nodes(lab: Lab, nodes: int = 3) -> Lab:
    """A Lab on a cluster with at least ``nodes`` nodes, for the notebooks about several.

    ``lab`` itself on a cluster it attached to, or on an agent that has them; otherwise (a
    one-node practice agent or ``nomad agent -dev``) a Lab on a practice agent with ``nodes``
    simulated nodes on a free port and the classroom's heartbeat timers
    (``nomadlab/practice/classroom.hcl``), which ``stop_agent()`` stops (the kit's own agent
    keeps running). One such agent is recorded under ``NOMADLAB_HOME`` and reused while it
    runs, so an interrupted notebook run again leaves no second one behind.
    """
    # The practice agent's modules load only here: a Lab on any other agent never needs them.
    from nomadlab.practice import Agent

    found = recorded_nodes(lab, nodes)
    if found is not None:
        return found
    log = agents.home() / f"agent-{nodes}-nodes.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    practice = Agent(http_port=None, nodes=nodes, log_file=log, config=[CLASSROOM]).start()
    running = agents.RunningAgent(
        mode="practice",
        address=practice.address,
        pid=practice.pid,
        create_time=psutil.Process(practice.pid).create_time(),
        log_file=log,
        started_by_kit=True,
        practice=True,
        command=practice.command(),  # so that stop_agent() can prove it is the kit's
    )
    _record(nodes).write_text(json.dumps(running.to_json(), indent=2) + "\n")
    return Lab(running, quiet=lab.quiet)


def _record(nodes: int) -> Path:
    return agents.home() / f"agent-{nodes}-nodes.json"


def recorded_nodes(lab: Lab, nodes: int = 3) -> Lab | None:
    """What ``several_nodes(lab, nodes)`` returns, without starting anything: ``lab`` on a
    cluster it attached to or an agent with the nodes, the recorded practice agent while it
    runs, else None. For checkers that look where a notebook's exercise ran."""
    attached_cluster = lab.mode == "attach" and not lab.agent.practice
    if attached_cluster or len(lab.nodes()) >= nodes:
        return lab
    record = _record(nodes)
    if record.exists():
        running = agents.RunningAgent.from_json(json.loads(record.read_text()))
        if process_of(running.pid, running.create_time) is not None:
            return Lab(running, quiet=lab.quiet)
    return None
