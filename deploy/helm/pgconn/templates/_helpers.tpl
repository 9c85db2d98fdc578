{{/* Names and labels shared by every object of the release. */}}

{{- define "pgconn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pgconn.fullname" -}}
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

{{- define "pgconn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pgconn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pgconn.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "pgconn.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "pgconn.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pgconn.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "pgconn.secretName" -}}
{{- default (include "pgconn.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The config file as it is mounted. */}}
{{- define "pgconn.config" -}}
{{ toYaml .Values.config }}
{{- end }}

{{/* Every ${NAME} the config refers to, sorted, without duplicates. */}}
{{- define "pgconn.configEnv" -}}
{{- $names := list }}
{{- range regexFindAll "\\$\\{[A-Za-z_][A-Za-z0-9_]*" (include "pgconn.config" .) -1 }}
{{- $names = append $names (trimPrefix "${" .) }}
{{- end }}
{{- $names | uniq | sortAlpha | join " " }}
{{- end }}

{{/* Settings the chart cannot work with fail the render, with what to change. */}}
{{- define "pgconn.validate" -}}
{{- if not .Values.config.clusters }}
{{- fail "config.clusters: at least one cluster is required (see values.yaml)" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.config.state_dsn) }}
{{- fail "replicaCount > 1 needs config.state_dsn (the PostgreSQL state store): with SQLite each replica would keep its own approvals and alert state" }}
{{- end }}
{{- if and .Values.state.existingClaim (gt (int .Values.replicaCount) 1) }}
{{- fail "state.existingClaim is for a single replica; several replicas share config.state_dsn" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "invalid" .Values.podDisruptionBudget.minAvailable)) (not (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable)) }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable, not both (set the other to null)" }}
{{- end }}
{{- end }}
