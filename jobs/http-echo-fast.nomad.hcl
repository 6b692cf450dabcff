# The http-echo service of http-echo.nomad.hcl with a classroom's timers: the same job
# (same ID, task and ports), but a deployment counts an allocation as healthy after 2s
# instead of 10s, and a crashed task restarts after about 1s instead of 15s. Notebook 04
# records scaling and a crash with it, so its charts take seconds rather than minutes.
#
#   nomad job run -var "python=$(which python3)" jobs/http-echo-fast.nomad.hcl

variable "python" {
  type        = string
  description = "Interpreter that has nomadlab installed (the notebook's sys.executable)."
  default     = "python3"
}

variable "count" {
  type        = number
  description = "How many copies of the service to run."
  default     = 1
}

job "http-microservice" {
  datacenters = ["dc1"]

  group "echo" {
    count = var.count

    # Nomad's defaults are min_healthy_time = "10s": an allocation must run that long
    # before the deployment counts it as healthy.
    update {
      min_healthy_time = "2s"
    }

    # Nomad's defaults are attempts = 2, interval = "30m", delay = "15s", mode = "fail":
    # after an unexpected exit, wait 15s (plus up to 25% jitter), restart at most twice in
    # 30 minutes, then mark the allocation failed (and let the reschedule policy move it).
    restart {
      attempts = 2
      interval = "30m"
      delay    = "1s"
      mode     = "fail"
    }

    network {
      # No static value: Nomad picks a free host port and tells the task through
      # NOMAD_PORT_http, NOMAD_IP_http and NOMAD_ADDR_http.
      port "http" {}
    }

    task "server" {
      driver = "raw_exec"

      config {
        command = var.python
        args = [
          "-m", "nomadlab.echo",
          # Bind only the address Nomad allocated, not every interface of the laptop.
          "-listen", "${NOMAD_IP_http}:${NOMAD_PORT_http}",
          "-text", "Hello and welcome to ${NOMAD_IP_http} running on port ${NOMAD_PORT_http}",
        ]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
