#!/bin/sh
# The first user comes from RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS (as in the official image);
# the node is named after the container's hostname, so its data survives a new container only when
# the compose file fixes `hostname:`. The server runs as the rabbitmq user and stops on SIGTERM.
# Another command runs as given (deploy/ha/compose.yaml's writes the cluster's cookie first, then
# comes back here with rabbitmq-server), as in the official image.
set -eu
if [ "${1:-rabbitmq-server}" != rabbitmq-server ]; then
  exec "$@"
fi
cat > /etc/rabbitmq/rabbitmq.conf <<CONF
default_user = ${RABBITMQ_DEFAULT_USER:-guest}
default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}
loopback_users = none
log.console = true
log.file = false
CONF
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
export HOME=/var/lib/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups /usr/lib/rabbitmq/bin/rabbitmq-server
