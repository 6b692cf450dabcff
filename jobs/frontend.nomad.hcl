# A frontend that finds the backend through Nomad service discovery: a template renders
# the backend's instances into local/backends.txt and signals the frontend (SIGHUP) to
# reload them whenever the registry changes.
#
#   nomad job run -var "python=$(which python3)" jobs/frontend.nomad.hcl

variable "python" {
  type        = string
  description = "Interpreter that has nomadlab installed (the notebook's sys.executable)."
  default     = "python3"
}

variable "change_mode" {
  type        = string
  description = "What a re-rendered template does to the task: signal, restart or noop."
  default     = "signal"
}

variable "upstream" {
  type        = string
  description = "The service query the template renders (\"backend\", or \"v2.backend\" for a tag)."
  default     = "backend"
}

job "frontend" {
  datacenters = ["dc1"]

  group "frontend" {
    update {
      min_healthy_time = "2s"
    }

    network {
      port "http" {}
    }

    service {
      name     = "frontend"
      provider = "nomad"
      port     = "http"

      check {
        type     = "http"
        path     = "/health"
        interval = "1s"
        timeout  = "1s"
      }
    }

    task "web" {
      driver = "raw_exec"

      template {
        data        = <<-EOT
          {{- range nomadService "${var.upstream}" }}
          {{ .Address }}:{{ .Port }}
          {{- end }}
        EOT
        destination   = "local/backends.txt"
        change_mode   = var.change_mode
        change_signal = "SIGHUP"
        # Classroom timer: Nomad's default splay is 5s, a random wait before the change
        # mode applies, so that many instances do not restart at the same moment.
        splay = "1s"
      }

      config {
        command = var.python
        args = [
          "-m", "nomadlab.frontend",
          "-listen", "${NOMAD_IP_http}:${NOMAD_PORT_http}",
          "-backends-file", "local/backends.txt",
          "-name", "frontend ${NOMAD_ALLOC_INDEX}",
        ]
      }

      resources {
        cpu    = 50
        memory = 48
      }
    }
  }
}
