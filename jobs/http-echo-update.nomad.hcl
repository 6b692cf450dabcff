# The http-echo service for notebook 05 (updating a job): the text it answers, how many
# copies, and the update block are variables, so each step changes one thing:
#
#   nomad job plan -var "python=$(which python3)" -var text=v1 jobs/http-echo-update.nomad.hcl
#   nomad job run  -var "python=$(which python3)" -var canary=1 -var text=v2 jobs/http-echo-update.nomad.hcl
#
# Classroom timers: an allocation counts as healthy after 2s of running (Nomad's default
# min_healthy_time is 10s), must be healthy within 30s (default healthy_deadline 5m), and a
# deployment fails if nothing becomes healthy for 1m (default progress_deadline 10m).
# An unhealthy allocation does not fail a deployment by itself: Nomad replaces it (its
# reschedule block) and fails the deployment at the progress deadline. With
# progress_deadline = 0 the first unhealthy allocation fails it: the broken version's run
# sets -var progress_deadline=0 to fail in seconds.

variable "python" {
  type        = string
  description = "Interpreter that has nomadlab installed (the notebook's sys.executable)."
  default     = "python3"
}

variable "text" {
  type        = string
  description = "What the service answers: the version a learner rolls out."
  default     = "v0"
}

variable "count" {
  type    = number
  default = 3
}

variable "max_parallel" {
  type        = number
  description = "How many allocations a rolling update replaces at a time."
  default     = 1
}

variable "canary" {
  type        = number
  description = "Canaries of a new version placed beside the old ones (= count: blue/green)."
  default     = 0
}

variable "progress_deadline" {
  type        = string
  description = "How long a deployment may go without a new healthy allocation (0: fail on the first unhealthy one)."
  default     = "1m"
}

variable "auto_revert" {
  type        = bool
  description = "Roll back to the last stable version when a deployment fails."
  default     = false
}

job "echo-update" {
  datacenters = ["dc1"]

  group "echo" {
    count = var.count

    update {
      max_parallel      = var.max_parallel
      canary            = var.canary
      auto_revert       = var.auto_revert
      min_healthy_time  = "2s"
      healthy_deadline  = "30s"
      progress_deadline = var.progress_deadline
    }

    # A task that exits is not restarted here (Nomad's default: 2 restarts, 15s apart), so
    # a broken version fails its deployment in seconds.
    restart {
      attempts = 0
      mode     = "fail"
    }

    # A failed allocation is replaced after 5s (Nomad's default for a service: 30s, then
    # doubling), so a rollback after a broken version completes in seconds.
    reschedule {
      delay          = "5s"
      delay_function = "constant"
      unlimited      = true
    }

    network {
      port "http" {}
    }

    task "server" {
      driver = "raw_exec"

      config {
        command = var.python
        args = [
          "-m", "nomadlab.echo",
          "-listen", "${NOMAD_IP_http}:${NOMAD_PORT_http}",
          "-text", "${var.text} from ${NOMAD_ALLOC_ID}",
        ]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
