#!/bin/sh
# Runs once, when docker-compose.yml's InfluxDB 2 starts on an empty volume:
# the influxdb image runs /docker-entrypoint-initdb.d/*.sh after its initial
# setup (DOCKER_INFLUXDB_INIT_*), with the influx CLI logged in as the admin
# and DOCKER_INFLUXDB_INIT_BUCKET_ID set to the id of the bucket it created.
#
# It maps the InfluxQL database/retention policy "<bucket>/autogen" to that
# bucket (InfluxDB 2's v1 compatibility, DBRP), so that the InfluxQL hosts
# dashboard (dashboards/grafana/hosts.json, data source "InfluxDB" with
# database <bucket>) reads what sysmon writes to the bucket.
set -eu

influx v1 dbrp create \
	--org "${DOCKER_INFLUXDB_INIT_ORG}" \
	--bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
	--db "${DOCKER_INFLUXDB_INIT_BUCKET}" \
	--rp autogen \
	--default
