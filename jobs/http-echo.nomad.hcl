# The tutorial's microservice job, run by the raw_exec driver with nomadlab's Python
# http-echo instead of the hashicorp/http-echo Docker image: for machines without Docker.
#
#   nomad job run -var "python=$(which python3)" jobs/http-echo.nomad.hcl

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
