# The http-echo backend registered in Nomad's own service catalog (provider = "nomad"),
# with an HTTP health check. Notebook 06 runs it, scales it, and breaks its health in a
# new version (health_status = 500).
#
#   nomad job run -var "python=$(which python3)" jobs/backend.nomad.hcl

variable "python" {
  type        = string
  description = "Interpreter that has nomadlab installed (the notebook's sys.executable)."
  default     = "python3"
}

variable "count" {
  type        = number
  description = "How many backend instances to run."
  default     = 2
}

variable "health_status" {
  type        = string
  description = "HTTP status the backend's /health answers (200 healthy; 500 to break it)."
  default     = "200"
}

variable "progress_deadline" {
  type        = string
  description = "How long a deployment may go without a new healthy allocation (0: fail on the first unhealthy one)."
  default     = "15s"
}

variable "tags" {
  type        = list(string)
  description = "Tags of the backend's service registration."
  default     = ["v1"]
}

job "backend" {
  datacenters = ["dc1"]

  group "backend" {
    count = var.count

    # Classroom timers: Nomad's defaults are min_healthy_time = "10s",
    # healthy_deadline = "5m" and progress_deadline = "10m". health_check = "checks" (the
    # default) means an instance counts as healthy only once its service checks pass. An
    # instance unhealthy at healthy_deadline is replaced, and the deployment fails at the
    # progress deadline; with progress_deadline = "0" the first unhealthy instance fails it.
    update {
      health_check     = "checks"
      min_healthy_time = "2s"
      healthy_deadline = "10s"
      progress_deadline = var.progress_deadline
    }

    network {
      port "http" {}
    }

    service {
      name     = "backend"
      provider = "nomad"
      port     = "http"
      tags     = var.tags

      # Classroom timer: checks every 1s (a common production value is 10s).
      check {
        type     = "http"
        path     = "/health"
        interval = "1s"
        timeout  = "1s"
      }
    }

    task "server" {
      driver = "raw_exec"

      config {
        command = var.python
        args = [
          "-m", "nomadlab.echo",
          "-listen", "${NOMAD_IP_http}:${NOMAD_PORT_http}",
          "-text", "hello from backend ${NOMAD_ALLOC_INDEX} at ${NOMAD_ADDR_http}",
          "-health-status", var.health_status,
        ]
      }

      resources {
        cpu    = 50
        memory = 48
      }
    }
  }
}
