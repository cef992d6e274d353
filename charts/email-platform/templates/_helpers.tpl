{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "email-platform.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped base name of every object. */}}
{{- define "email-platform.fullname" -}}
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

{{/* Name of one component's objects: <fullname>-<component>. Call with (dict "root" $ "component" "delivery"). */}}
{{- define "email-platform.componentName" -}}
{{- printf "%s-%s" (include "email-platform.fullname" .root | trunc 50 | trimSuffix "-") .component }}
{{- end }}

{{- define "email-platform.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "email-platform.labels" -}}
helm.sh/chart: {{ include "email-platform.chart" . }}
{{ include "email-platform.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: email-platform
{{- end }}

{{- define "email-platform.selectorLabels" -}}
app.kubernetes.io/name: {{ include "email-platform.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component. Call with (dict "root" $ "component" "delivery"). */}}
{{- define "email-platform.componentLabels" -}}
{{ include "email-platform.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "email-platform.componentSelectorLabels" -}}
{{ include "email-platform.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "email-platform.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "email-platform.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding credentials and connection strings. */}}
{{- define "email-platform.secretName" -}}
{{- default (include "email-platform.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* Image reference of one component. Call with (dict "root" $ "component" "delivery"). */}}
{{- define "email-platform.image" -}}
{{- $values := index .root.Values .component }}
{{- $repository := $values.image.repository | default (printf "%s/%s" .root.Values.image.repository $values.image.name) }}
{{- $tag := $values.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}

{{/* The Secret key under which a relay's username or password lives. Call with (list "<name>" "username"). */}}
{{- define "email-platform.relaySecretKey" -}}
{{- printf "relay-%s-%s" (index . 0 | lower | replace " " "-") (index . 1) }}
{{- end }}

{{/* A configuration value as the string .NET binds: whole numbers without an exponent (YAML reads 1000000 as a
     float, which toString would render as 1e+06). */}}
{{- define "email-platform.configValue" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}{{ int64 . }}{{ else }}{{ toString . }}{{ end }}
{{- end }}

{{/* Environment every component reads: the API key, the broker and OTLP. */}}
{{- define "email-platform.commonEnv" -}}
- name: Auth__BootstrapKey
  valueFrom:
    secretKeyRef:
      name: {{ include "email-platform.secretName" . }}
      key: {{ .Values.secrets.keys.bootstrapKey }}
- name: ConnectionStrings__RabbitMq
  valueFrom:
    secretKeyRef:
      name: {{ include "email-platform.secretName" . }}
      key: {{ .Values.secrets.keys.rabbitMq }}
{{- end }}

{{- define "email-platform.postgresEnv" -}}
- name: ConnectionStrings__Postgres
  valueFrom:
    secretKeyRef:
      name: {{ include "email-platform.secretName" . }}
      key: {{ .Values.secrets.keys.postgres }}
{{- end }}

{{/* Probes on /health/*. */}}
{{- define "email-platform.probes" -}}
{{- with .Values.probes -}}
startupProbe:
  httpGet: { path: {{ .startup.path }}, port: http }
  periodSeconds: {{ .startup.periodSeconds }}
  timeoutSeconds: {{ .startup.timeoutSeconds }}
  failureThreshold: {{ .startup.failureThreshold }}
livenessProbe:
  httpGet: { path: {{ .liveness.path }}, port: http }
  periodSeconds: {{ .liveness.periodSeconds }}
  timeoutSeconds: {{ .liveness.timeoutSeconds }}
  failureThreshold: {{ .liveness.failureThreshold }}
readinessProbe:
  httpGet: { path: {{ .readiness.path }}, port: http }
  periodSeconds: {{ .readiness.periodSeconds }}
  timeoutSeconds: {{ .readiness.timeoutSeconds }}
  failureThreshold: {{ .readiness.failureThreshold }}
{{- end }}
{{- end }}

{{/* Topology spread with the component's selector filled in. Call with (dict "root" $ "component" "delivery"). */}}
{{- define "email-platform.topologySpread" -}}
{{- $root := .root }}
{{- $component := .component }}
{{- $selector := include "email-platform.componentSelectorLabels" (dict "root" $root "component" $component) | fromYaml }}
{{- $constraints := list }}
{{- range .root.Values.topologySpreadConstraints }}
{{- $constraints = append $constraints (merge (dict "labelSelector" (dict "matchLabels" $selector)) (omit . "labelSelector")) }}
{{- end }}
{{- toYaml $constraints }}
{{- end }}
