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

{{/* Without secrets.existingSecret the chart writes the connection strings into its Secrets: fails, naming the
     values, when one is empty, rather than letting the migrations hook and the services fail on it in the cluster. */}}
{{- define "email-platform.requireConnectionStrings" -}}
{{- if not .Values.secrets.existingSecret }}
{{- $missing := list }}
{{- if not .Values.secrets.postgresConnectionString }}
{{- $missing = append $missing "secrets.postgresConnectionString" }}
{{- end }}
{{- if not .Values.secrets.rabbitMqConnectionString }}
{{- $missing = append $missing "secrets.rabbitMqConnectionString" }}
{{- end }}
{{- if $missing }}
{{- fail (printf "%s: required unless secrets.existingSecret names a Secret you manage; the migrations and the services cannot start without %s. E.g. --set secrets.postgresConnectionString='Host=postgres;Username=emailplatform;Password=...;Database=emailplatform' --set secrets.rabbitMqConnectionString='amqp://emailplatform:...@rabbitmq:5672/'" (join " and " $missing) (ternary "it" "them" (eq (len $missing) 1))) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The checksum/secret of one component's pods: a hash of the values the chart's Secret is made of that the
     component reads (every component the API key and the connection strings; the workers also the relays'
     credentials and the DKIM keys), not of the rendered Secret. The Secret's generated API key is left out: it is
     random at each render until lookup finds the Secret (on install, in a dry run, and always with helm template),
     so hashing it gave each Deployment a checksum of its own that matched nothing, and rolled every pod at the
     first upgrade, or at every render under GitOps. secrets.bootstrapKey is in: setting it rolls the pods.
     Call with (dict "root" $ "component" "delivery"). */}}
{{- define "email-platform.secretChecksum" -}}
{{- $secrets := .root.Values.secrets }}
{{- $inputs := dict "keys" $secrets.keys "bootstrapKey" ($secrets.bootstrapKey | default "") "postgres" $secrets.postgresConnectionString "rabbitMq" $secrets.rabbitMqConnectionString }}
{{- if eq .component "delivery" }}
{{- range $relay := .root.Values.delivery.relays }}
{{- range $field := list "username" "password" }}
{{- with index $relay $field }}
{{- $_ := set $inputs (include "email-platform.relaySecretKey" (list $relay.name $field)) . }}
{{- end }}
{{- end }}
{{- end }}
{{- range $dkim := .root.Values.delivery.dkim }}
{{- with $dkim.privateKey }}
{{- $_ := set $inputs (include "email-platform.dkimSecretKey" $dkim.domain) . }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $inputs | sha256sum }}
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

{{/* The Secret key under which the chart's Secret (or secrets.existingSecret) holds a DKIM private key. Call with the domain. */}}
{{- define "email-platform.dkimSecretKey" -}}
{{- printf "dkim-%s-private-key" (lower .) }}
{{- end }}

{{/* Where DKIM entry <n> takes its private key from, as JSON: secret and key (a Secret key the chart mounts at
     mountPath) and file (the path the worker reads, Delivery:Dkim:<n>:PrivateKeyFile). Fails on an entry that
     gives more than one source, or none the chart can use. Call with (list $ <n> <entry>). */}}
{{- define "email-platform.dkimKey" -}}
{{- $root := index . 0 }}
{{- $i := index . 1 }}
{{- $dkim := index . 2 }}
{{- $what := printf "delivery.dkim[%d]" $i }}
{{- $domain := required (printf "%s.domain is required" $what) $dkim.domain }}
{{- $given := list }}
{{- range $source := list "privateKey" "privateKeySecret" "privateKeyFile" }}
{{- if index $dkim $source }}
{{- $given = append $given $source }}
{{- end }}
{{- end }}
{{- if gt (len $given) 1 }}
{{- fail (printf "%s (%s): set at most one of privateKey, privateKeySecret and privateKeyFile (got %s)." $what $domain (join ", " $given)) }}
{{- end }}
{{- $mountPath := printf "/etc/emailplatform/dkim/%d" $i }}
{{- $file := printf "%s/private-key.pem" $mountPath }}
{{- if $dkim.privateKeyFile }}
{{- dict "file" $dkim.privateKeyFile | toJson }}
{{- else if $dkim.privateKeySecret }}
{{- dict "secret" $dkim.privateKeySecret.name "key" $dkim.privateKeySecret.key "mountPath" $mountPath "file" $file | toJson }}
{{- else }}
{{- $key := include "email-platform.dkimSecretKey" $domain }}
{{- if and $dkim.privateKey $root.Values.secrets.existingSecret }}
{{- fail (printf "%s (%s): privateKey cannot go into secrets.existingSecret '%s', which the chart does not write: put the PEM there under the key %s and leave privateKey empty, or use privateKeySecret." $what $domain $root.Values.secrets.existingSecret $key) }}
{{- end }}
{{- if and (not $dkim.privateKey) (not $root.Values.secrets.existingSecret) }}
{{- fail (printf "%s (%s): the private key is missing: set privateKey (PEM), privateKeySecret (a Secret you manage) or privateKeyFile (a file you mount)." $what $domain) }}
{{- end }}
{{- dict "secret" (include "email-platform.secretName" $root) "key" $key "mountPath" $mountPath "file" $file | toJson }}
{{- end }}
{{- end }}

{{/* Fails on a relay the workers would refuse to start with (DeliveryOptionsValidator), for when the schema is
     skipped: port 465 (implicit TLS) with a security other than SslOnConnect, and a username with a security that can
     send it in plain text (None, or Auto, the default). Also on credentials given in values with secrets.existingSecret,
     which the chart does not write: dropped, they left the workers sending without AUTH. Call with (list $ <n> <relay>). */}}
{{- define "email-platform.relaySecurity" -}}
{{- $root := index . 0 }}
{{- $i := index . 1 }}
{{- $relay := index . 2 }}
{{- $security := toString ($relay.security | default "Auto") }}
{{- /* The workers bind the enum ignoring case. */}}
{{- $tls := lower $security }}
{{- if and (hasKey $relay "port") (eq (toString $relay.port) "465") (ne $tls "sslonconnect") }}
{{- fail (printf "delivery.relays[%d] (%s): port 465 is implicit TLS, so security must be SslOnConnect (was %s): set delivery.relays[%d].security=SslOnConnect, or use port 587 with StartTls. The workers refuse any other security there." $i $relay.name $security $i) }}
{{- end }}
{{- if and $relay.username (not (has $tls (list "starttls" "sslonconnect"))) }}
{{- fail (printf "delivery.relays[%d] (%s): a username needs security StartTls or SslOnConnect (was %s): set delivery.relays[%d].security to one of them. The workers never send credentials over a connection that may be unencrypted." $i $relay.name $security $i) }}
{{- end }}
{{- if $root.Values.secrets.existingSecret }}
{{- $given := list }}
{{- range $field := list "username" "password" }}
{{- if index $relay $field }}
{{- $given = append $given $field }}
{{- end }}
{{- end }}
{{- if $given }}
{{- fail (printf "delivery.relays[%d] (%s): %s cannot go into secrets.existingSecret '%s', which the chart does not write: put the credentials there under the keys %s and %s and leave %s empty." $i $relay.name (join " and " $given) $root.Values.secrets.existingSecret (include "email-platform.relaySecretKey" (list $relay.name "username")) (include "email-platform.relaySecretKey" (list $relay.name "password")) (join " and " $given)) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Where relay <n> takes its trusted certificate from, as JSON like email-platform.dkimKey's: {} when it trusts
     only the system's roots or gives the PEM inline. Fails when the relay gives more than one. Call with (list <n> <relay>). */}}
{{- define "email-platform.relayCertificate" -}}
{{- $i := index . 0 }}
{{- $relay := index . 1 }}
{{- $given := list }}
{{- range $source := list "trustedCertificate" "trustedCertificateSecret" "trustedCertificateFile" }}
{{- if index $relay $source }}
{{- $given = append $given $source }}
{{- end }}
{{- end }}
{{- if gt (len $given) 1 }}
{{- fail (printf "delivery.relays[%d] (%s): set at most one of trustedCertificate, trustedCertificateSecret and trustedCertificateFile (got %s)." $i $relay.name (join ", " $given)) }}
{{- end }}
{{- if and $given (eq (toString $relay.security) "None") }}
{{- fail (printf "delivery.relays[%d] (%s): %s is set but security is None: a certificate to trust needs StartTls, SslOnConnect or Auto." $i $relay.name (first $given)) }}
{{- end }}
{{- with $relay.trustedCertificateSecret }}
{{- $mountPath := printf "/etc/emailplatform/relays/%d" $i }}
{{- dict "secret" .name "key" .key "mountPath" $mountPath "file" (printf "%s/trusted-certificate.pem" $mountPath) | toJson }}
{{- else }}
{{- dict | toJson }}
{{- end }}
{{- end }}

{{/* A configuration value as the string .NET binds: whole numbers without an exponent (YAML reads 1000000 as a
     float, which toString would render as 1e+06). */}}
{{- define "email-platform.configValue" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}{{ int64 . }}{{ else }}{{ toString . }}{{ end }}
{{- end }}

{{/* The path prefixes the Ingress and the HTTPRoute publish, as JSON (fromJsonArray): ingress.publicPaths, or its
     default for values reused from an older chart. */}}
{{- define "email-platform.publicPaths" -}}
{{- .Values.ingress.publicPaths | default (list "/v1" "/docs" "/openapi") | toJson }}
{{- end }}

{{/* A TimeSpan as .NET binds it ([d.]hh:mm[:ss[.fff]], or d alone: days) in whole seconds, the fraction dropped:
     00:01:40 -> 100. */}}
{{- define "email-platform.timeSpanSeconds" -}}
{{- $parts := splitList ":" (toString .) }}
{{- $head := splitList "." (first $parts) }}
{{- if eq (len $parts) 1 }}
{{- mul (first $head | int) 86400 }}
{{- else }}
{{- $days := 0 }}
{{- if gt (len $head) 1 }}
{{- $days = first $head | int }}
{{- end }}
{{- $seconds := 0 }}
{{- if gt (len $parts) 2 }}
{{- $seconds = index $parts 2 | splitList "." | first | int }}
{{- end }}
{{- add (mul $days 86400) (mul (last $head | int) 3600) (mul (index $parts 1 | int) 60) $seconds }}
{{- end }}
{{- end }}

{{/* Whole seconds as the TimeSpan .NET binds: 30 -> 00:00:30. */}}
{{- define "email-platform.timeSpan" -}}
{{- $seconds := int . }}
{{- printf "%02d:%02d:%02d" (div $seconds 3600) (div (mod $seconds 3600) 60) (mod $seconds 60) }}
{{- end }}

{{/* The pod's termination grace period, refused unless it outlasts its preStop sleep and the host's shutdown
     timeout together: the kubelet would kill the pod while its host still stops. Without shutdownTimeoutSeconds
     (values reused from an older chart) the host keeps its default, Shutdown:Timeout 30 s. Call with
     (dict "root" $ "component" "delivery"). */}}
{{- define "email-platform.terminationGracePeriod" -}}
{{- $values := index .root.Values .component }}
{{- include "email-platform.refuseOtherShutdownTimeout" . }}
{{- $grace := int $values.terminationGracePeriodSeconds }}
{{- $shutdown := int ($values.shutdownTimeoutSeconds | default 30) }}
{{- $preStop := int ($values.preStopSleepSeconds | default 0) }}
{{- if le $grace (add $preStop $shutdown) }}
{{- $what := printf "%s.shutdownTimeoutSeconds (%d)" .component $shutdown }}
{{- if $preStop }}
{{- $what = printf "%s.preStopSleepSeconds (%d) and %s together" .component $preStop $what }}
{{- end }}
{{- fail (printf "%s.terminationGracePeriodSeconds (%d) must be longer than %s, or the pod is killed before its host has stopped: give it a few seconds more (e.g. %d)." .component $grace $what (add $preStop $shutdown 5)) }}
{{- end }}
{{- $grace }}
{{- end }}

{{/* Fails when config, <component>.config, extraEnv or <component>.env sets Shutdown:Timeout (any spelling the
     services read it in: ':' or '__', any case, with or without a DOTNET_ or ASPNETCORE_ prefix). They would win
     over the Shutdown__Timeout the chart renders from shutdownTimeoutSeconds, while the grace period is checked
     against shutdownTimeoutSeconds only: delivery.config {"Shutdown:Timeout": "00:05:00"} rendered with a 35 s
     grace period, and the kubelet killed the workers mid-drain. Call with (dict "root" $ "component" "delivery"). */}}
{{- define "email-platform.refuseOtherShutdownTimeout" -}}
{{- $values := index .root.Values .component }}
{{- $sources := dict "config" (keys (.root.Values.config | default dict)) (printf "%s.config" .component) (keys ($values.config | default dict)) }}
{{- $names := list }}
{{- range .root.Values.extraEnv }}{{ $names = append $names (toString .name) }}{{ end }}
{{- $_ := set $sources "extraEnv" $names }}
{{- $names = list }}
{{- range $values.env }}{{ $names = append $names (toString .name) }}{{ end }}
{{- $_ := set $sources (printf "%s.env" .component) $names }}
{{- range $source, $names := $sources }}
{{- range $name := $names }}
{{- $key := $name | lower | replace "__" ":" | trimPrefix "dotnet_" | trimPrefix "aspnetcore_" }}
{{- if eq $key "shutdown:timeout" }}
{{- $instead := ternary (printf "%s.shutdownTimeoutSeconds" $.component) "ingress.shutdownTimeoutSeconds, delivery.shutdownTimeoutSeconds and status.shutdownTimeoutSeconds" (contains "." $source) }}
{{- fail (printf "%s sets %s: set %s instead. The chart renders Shutdown__Timeout from it and makes sure the pod's terminationGracePeriodSeconds outlasts it; set elsewhere, it would win unchecked and the kubelet could kill the pod while its host still stops." $source $name $instead) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The container's preStop sleep (<component>.preStopSleepSeconds; 0: none), refused on a cluster older than
     Kubernetes 1.30, where the sleep action is missing or off. Call with (dict "root" $ "component" "ingress"). */}}
{{- define "email-platform.preStop" -}}
{{- $seconds := int ((index .root.Values .component).preStopSleepSeconds | default 0) }}
{{- if $seconds }}
{{- if semverCompare "<1.30-0" .root.Capabilities.KubeVersion.Version }}
{{- fail (printf "%s.preStopSleepSeconds (%d) needs Kubernetes 1.30 or later (the preStop sleep action), and this cluster is %s: set it to 0." .component $seconds .root.Capabilities.KubeVersion.Version) }}
{{- end }}
lifecycle:
  preStop:
    sleep:
      seconds: {{ $seconds }}
{{- end }}
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

{{/* The port every component's container listens on (named http): the API, /health/* and /metrics. The Deployments
     and the NetworkPolicies' egress rules to the status pods both take it from here. */}}
{{- define "email-platform.httpPort" -}}
8080
{{- end }}

{{/* The bounce listener's Service (status.bounceListener): <fullname>-status-bounces, within the 63 characters a
     Service's name may have. */}}
{{- define "email-platform.bounceServiceName" -}}
{{- printf "%s-status-bounces" (include "email-platform.fullname" . | trunc 48 | trimSuffix "-") }}
{{- end }}

{{/* Fails on a status.bounceListener the status service would refuse to start with (BounceListenerOptions), naming the
     value: checked here too, for a render with --skip-schema-validation, and for what the schema cannot check (the
     http port, the session timeout's range). Call with the root context. */}}
{{- define "email-platform.requireBounceListener" -}}
{{- $bounces := .Values.status.bounceListener }}
{{- if not $bounces.domains }}
{{- fail "status.bounceListener.domains is required with status.bounceListener.enabled: the domains whose mail the listener takes at RCPT TO, such as the domain of ingress.returnPath (e.g. --set 'status.bounceListener.domains={bounce.example.com}'). The status service refuses to start without them." }}
{{- end }}
{{- range $i, $domain := $bounces.domains }}
{{- if not (regexMatch `^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?\.?$` (toString $domain)) }}
{{- fail (printf "status.bounceListener.domains[%d] (%v) is not a host name with a dot, such as bounce.example.com." $i $domain) }}
{{- end }}
{{- end }}
{{- $httpPort := include "email-platform.httpPort" . | int }}
{{- if eq (int $bounces.port) $httpPort }}
{{- fail (printf "status.bounceListener.port (%d) is the port the status container serves HTTP on: choose another, e.g. 2525." $httpPort) }}
{{- end }}
{{- with $bounces.sessionTimeout }}
{{- $seconds := include "email-platform.timeSpanSeconds" . | int }}
{{- if or (lt $seconds 10) (gt $seconds 3600) (and (eq $seconds 3600) (regexMatch `\.0*[1-9][0-9]*$` (toString .))) }}
{{- fail (printf "status.bounceListener.sessionTimeout (%s) must be between 00:00:10 and 01:00:00, or empty for the default (00:02:00)." .) }}
{{- end }}
{{- end }}
{{- with dig "tls" "secretName" "" $bounces }}
{{- if or (gt (len .) 253) (not (regexMatch `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$` .)) }}
{{- fail (printf "status.bounceListener.tls.secretName (%s) is not the name of a Secret: lower case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters." .) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The bounce listener's certificate (status.bounceListener.tls.secretName) as JSON like email-platform.dkimKey's, with
     both of the kubernetes.io/tls Secret's keys as items: a whole Secret volume, not subPath mounts, so that a renewed
     certificate reaches the files the listener re-reads. {} without TLS or without the listener. Call with the root
     context. */}}
{{- define "email-platform.bounceListenerTls" -}}
{{- $bounces := .Values.status.bounceListener | default dict }}
{{- $secret := dig "tls" "secretName" "" $bounces }}
{{- if and $bounces.enabled $secret }}
{{- $mountPath := "/etc/emailplatform/bounce-listener-tls" }}
{{- $items := list (dict "key" "tls.crt" "path" "tls.crt") (dict "key" "tls.key" "path" "tls.key") }}
{{- dict "secret" $secret "mountPath" $mountPath "items" $items "certificateFile" (printf "%s/tls.crt" $mountPath) "keyFile" (printf "%s/tls.key" $mountPath) | toJson }}
{{- else }}
{{- dict | toJson }}
{{- end }}
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

{{/* The non-secret settings of one component, as the data lines of its ConfigMap (envFrom): the chart's own keys
     first; then `config` (every component) and `<component>.config`, which win over them. The ConfigMap and its
     Deployment's checksum/config both use this, so that a change to one component's settings (ingress.replicas
     sets the ingress's Ingress__RateLimit__Replicas) rolls that component's pods only, not every worker's SMTP
     transactions. Call with (dict "root" $ "component" "delivery"). */}}
{{- define "email-platform.configData" -}}
{{- $root := .root }}
{{- $component := .component }}
{{- $values := index $root.Values $component }}
{{- $statusUrl := printf "http://%s:%v" (include "email-platform.componentName" (dict "root" $root "component" "status")) $root.Values.status.service.port }}
{{- $data := dict }}
{{- with $root.Values.otlpEndpoint }}
{{- $_ := set $data "OTEL_EXPORTER_OTLP_ENDPOINT" . }}
{{- end }}
{{- with $root.Values.logFormat }}
{{- $_ := set $data "Logging__Console__FormatterName" . }}
{{- end }}
{{- with $values.shutdownTimeoutSeconds }}
{{- $_ := set $data "Shutdown__Timeout" (include "email-platform.timeSpan" .) }}
{{- end }}
{{- if eq $component "ingress" }}
{{- $_ := set $data "Ingress__StatusUrl" $statusUrl }}
{{- /* Each replica enforces its share of a key's rate limit. */}}
{{- $_ := set $data "Ingress__RateLimit__Replicas" (toString $values.replicas) }}
{{- with $values.messageIdDomain }}
{{- $_ := set $data "Ingress__MessageIdDomain" . }}
{{- end }}
{{- with $values.returnPath }}
{{- $_ := set $data "Ingress__ReturnPath" . }}
{{- end }}
{{- end }}
{{- if eq $component "status" }}
{{- $bounces := $values.bounceListener | default dict }}
{{- if $bounces.enabled }}
{{- include "email-platform.requireBounceListener" $root }}
{{- $_ := set $data "Status__BounceListener__Port" $bounces.port }}
{{- range $i, $domain := $bounces.domains }}
{{- $_ := set $data (printf "Status__BounceListener__Domains__%d" $i) $domain }}
{{- end }}
{{- with $bounces.serverName }}
{{- $_ := set $data "Status__BounceListener__ServerName" . }}
{{- end }}
{{- with $bounces.sessionTimeout }}
{{- $_ := set $data "Status__BounceListener__SessionTimeout" . }}
{{- end }}
{{- with include "email-platform.bounceListenerTls" $root | fromJson }}
{{- $_ := set $data "Status__BounceListener__CertificatePath" .certificateFile }}
{{- $_ := set $data "Status__BounceListener__CertificateKeyPath" .keyFile }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq $component "delivery" }}
{{- $_ := set $data "Delivery__StatusUrl" $statusUrl }}
{{- with $values.connectTimeout }}
{{- $_ := set $data "Delivery__ConnectTimeout" . }}
{{- end }}
{{- with $values.commandTimeout }}
{{- $_ := set $data "Delivery__CommandTimeout" . }}
{{- end }}
{{- with $values.dataTimeout }}
{{- $_ := set $data "Delivery__DataTimeout" . }}
{{- end }}
{{- range $i, $relay := $values.relays }}
{{- $prefix := printf "Delivery__Relays__%d__" $i }}
{{- $_ := set $data (print $prefix "Name") (required (printf "delivery.relays[%d].name is required" $i) $relay.name) }}
{{- $_ := set $data (print $prefix "Host") (required (printf "delivery.relays[%d].host is required: the upstream SMTP relay the workers send through (the defaults name none). Give the whole entry, e.g. --set 'delivery.relays[0].name=primary,delivery.relays[0].host=smtp.example.net,delivery.relays[0].port=587,delivery.relays[0].security=StartTls'" $i) $relay.host) }}
{{- include "email-platform.relaySecurity" (list $root $i $relay) }}
{{- range $key := list "port" "security" "maxConnections" "maxMessagesPerSecond" "priority" "weight" "trustedCertificate" "trustedCertificateFile" "checkCertificateRevocation" }}
{{- if hasKey $relay $key }}
{{- $_ := set $data (print $prefix (upper (substr 0 1 $key)) (substr 1 -1 $key)) (index $relay $key) }}
{{- end }}
{{- end }}
{{- with include "email-platform.relayCertificate" (list $i $relay) | fromJson }}
{{- $_ := set $data (print $prefix "TrustedCertificateFile") .file }}
{{- end }}
{{- end }}
{{- /* DKIM: the domain and selector here; the private key only as the path of a file mounted from a Secret. */}}
{{- $domains := dict }}
{{- range $i, $dkim := $values.dkim }}
{{- $prefix := printf "Delivery__Dkim__%d__" $i }}
{{- $key := include "email-platform.dkimKey" (list $root $i $dkim) | fromJson }}
{{- $domain := lower $dkim.domain }}
{{- if hasKey $domains $domain }}
{{- fail (printf "delivery.dkim[%d]: the domain %s already has a key (delivery.dkim[%v]): one key per domain." $i $dkim.domain (get $domains $domain)) }}
{{- end }}
{{- $_ := set $domains $domain $i }}
{{- $_ := set $data (print $prefix "Domain") $dkim.domain }}
{{- $_ := set $data (print $prefix "Selector") (required (printf "delivery.dkim[%d].selector is required" $i) $dkim.selector) }}
{{- $_ := set $data (print $prefix "PrivateKeyFile") $key.file }}
{{- end }}
{{- end }}
{{- range $source := list $root.Values.config $values.config }}
{{- range $key, $value := $source }}
{{- $_ := set $data ($key | replace ":" "__") $value }}
{{- end }}
{{- end }}
{{- range $key, $value := $data }}
{{ $key }}: {{ include "email-platform.configValue" $value | quote }}
{{- end }}
{{- end }}
