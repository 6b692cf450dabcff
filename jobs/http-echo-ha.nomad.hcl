# The http-echo service run as a highly available service over several nodes, with a
# classroom's timers so that restarts, reschedules and drains take seconds. Notebook 07
# breaks it on purpose.
#
#   nomad job run -var "python=$(which python3)" -var count=3 jobs/http-echo-ha.nomad.hcl

variable "python" {
  type        = string
  description = "Interpreter that has nomadlab installed (the notebook's sys.executable)."
  default     = "python3"
}

variable "count" {
  type        = number
  description = "How many copies of the service to run."
  default     = 3
}

job "http-ha" {
  datacenters = ["dc1"]

  group "echo" {
    count = var.count

    # One copy per node, as evenly as the nodes allow.
    spread {
      attribute = "${node.unique.name}"
    }

    # Nomad's default is min_healthy_time = "10s".
    update {
      min_healthy_time = "2s"
    }

    # How a drain moves the copies: one at a time, each replacement healthy for 2s before
    # the next copy leaves (Nomad's default min_healthy_time here is also "10s").
    migrate {
      max_parallel     = 1
      min_healthy_time = "2s"
    }

    # Nomad's defaults are attempts = 2, delay = "15s": here a crash restarts after ~1s,
    # and the second crash in 30 minutes fails the allocation.
    restart {
      attempts = 1
      interval = "30m"
      delay    = "1s"
      mode     = "fail"
    }

    # Nomad's default for a service waits 30s, doubles the wait on each failure and never
    # gives up. Here a failed allocation moves to another node after 5s (the least Nomad
    # allows), at most 3 times an hour.
    reschedule {
      delay          = "5s"
      delay_function = "constant"
      attempts       = 3
      interval       = "1h"
      unlimited      = false
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
          "-text", "Hello from ${node.unique.name} on port ${NOMAD_PORT_http}",
        ]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
