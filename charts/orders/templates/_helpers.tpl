{{/* Names and labels. */}}
{{- define "orders.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "orders.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "orders.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "orders.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one process type: (dict "root" $ "component" "api"). */}}
{{- define "orders.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orders.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "orders.componentLabels" -}}
{{ include "orders.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "orders.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "orders.connectionsSecret" -}}
{{- default (printf "%s-connections" (include "orders.fullname" .)) .Values.connections.existingSecret }}
{{- end }}

{{- define "orders.jwtSecret" -}}
{{- default (printf "%s-jwt" (include "orders.fullname" .)) .Values.jwt.existingSecret }}
{{- end }}

{{/* The Procfile's lines (tests/charts checks they are identical), run as the image runs them. */}}
{{- define "orders.command.api" -}}
["sh", "-c", "{ [ \"${MIGRATE_ON_START:-true}\" = false ] || alembic upgrade head; } && exec python -m api --host ${HOST:-127.0.0.1} --port ${PORT:-8000}"]
{{- end }}
{{- define "orders.command.consumer" -}}
["sh", "-c", "exec python -m consumer"]
{{- end }}
{{- define "orders.command.worker" -}}
["sh", "-c", "exec python -m worker"]
{{- end }}
{{- define "orders.command.webhooks" -}}
["sh", "-c", "exec python -m dispatcher"]
{{- end }}

{{/* Everything every app container shares: the environment, the security context, /tmp. */}}
{{- define "orders.pod" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "orders.topologySpread" -}}
topologySpreadConstraints:
  - maxSkew: {{ .root.Values.topologySpread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: {{ .root.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "orders.selectorLabels" . | nindent 8 }}
{{- end }}

{{- define "orders.connectionEnv" -}}
- name: ENVIRONMENT
  value: {{ .Values.environment | quote }}
{{- range list "DATABASE_URL" "REDIS_URL" "RABBITMQ_URL" }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ include "orders.connectionsSecret" $ }}
      key: {{ . }}
{{- end }}
{{- /* A cluster's node list and the Sentinels' password, when the Secret has them (docs/ha.md). */}}
{{- range list "RABBITMQ_URLS" "REDIS_SENTINEL_PASSWORD" }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ include "orders.connectionsSecret" $ }}
      key: {{ . }}
      optional: true
{{- end }}
{{- end }}

{{- define "orders.appEnv" -}}
{{ include "orders.connectionEnv" . }}
- name: HEARTBEAT_DIR
  value: /tmp
- name: TASKIQ_STREAM
  value: {{ .Values.taskQueue.stream | quote }}
- name: TASKIQ_CONSUMER_GROUP
  value: {{ .Values.taskQueue.consumerGroup | quote }}
{{- end }}

{{- define "orders.container" -}}
image: {{ include "orders.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.containerSecurityContext | nindent 2 }}
{{- end }}

{{- define "orders.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{/* Liveness of consumer and worker: their heartbeat check, as in docker-compose.yml. */}}
{{- define "orders.heartbeatProbe" -}}
exec:
  command: ["python", "-m", "infra.heartbeat", {{ .component | quote }}]
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end }}
