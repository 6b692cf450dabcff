# A classroom's agent configuration: a node that stops heartbeating is noticed in 4 to 7
# seconds instead of Nomad's 20 to 30 (min_heartbeat_ttl and heartbeat_grace are 10s each
# by default). The kit's several-node practice agents run with it; Nomad takes it too:
#
#   nomad agent -dev -config classroom.hcl
#   nomadlab agent -dev -nodes 3 -config classroom.hcl
#
# Clients heartbeat at each TTL, so the grace is the margin a busy laptop has.
server {
  min_heartbeat_ttl = "2s"
  heartbeat_grace   = "3s"
}
