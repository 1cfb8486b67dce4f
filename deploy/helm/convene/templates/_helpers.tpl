{{/*
Names, labels and the shared pieces of every resource. Every helper is namespaced by the
chart's name ("convene."). A service is named by its Kubernetes name ("calendar-sync");
its values live under services.<camelCase name> ("calendarSync").
*/}}

{{/* The chart's name, or nameOverride. */}}
{{- define "convene.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release-qualified name every resource's name starts with. */}}
{{- define "convene.fullname" -}}
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

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "convene.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The services, in the order their resources are rendered. */}}
{{- define "convene.serviceNames" -}}
records meetings calendar-sync notifications booking-pages
{{- end }}

{{/* The values key of a service: "calendar-sync" -> "calendarSync". */}}
{{- define "convene.serviceKey" -}}
{{- . | replace "-" "_" | camelcase | untitle }}
{{- end }}

{{/* A service's values. Takes (dict "root" $ "name" "<service>"). */}}
{{- define "convene.serviceValues" -}}
{{- toYaml (index .root.Values.services (include "convene.serviceKey" .name)) }}
{{- end }}

{{/* The name of a service's resources: <fullname>-<service>. */}}
{{- define "convene.serviceFullname" -}}
{{- printf "%s-%s" (include "convene.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource of the chart. */}}
{{- define "convene.labels" -}}
helm.sh/chart: {{ include "convene.chart" . }}
app.kubernetes.io/name: {{ include "convene.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: convene
{{- end }}

{{/* Labels of a service's resources. Takes (dict "root" $ "name" "<service>"). */}}
{{- define "convene.serviceLabels" -}}
{{ include "convene.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* The labels that select a service's pods (never change them: selectors are immutable). */}}
{{- define "convene.selectorLabels" -}}
app.kubernetes.io/name: {{ include "convene.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* The ServiceAccount a service's pods run as. */}}
{{- define "convene.serviceAccountName" -}}
{{- $svc := include "convene.serviceValues" . | fromYaml }}
{{- if $svc.serviceAccount.create }}
{{- default (include "convene.serviceFullname" .) $svc.serviceAccount.name }}
{{- else }}
{{- default "default" $svc.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
A service's image: <registry>/<repository>:<tag> or @<digest>. The tag defaults to the
chart's appVersion; "latest" is refused (the schema refuses it too).
*/}}
{{- define "convene.image" -}}
{{- $svc := include "convene.serviceValues" . | fromYaml }}
{{- $repository := $svc.image.repository }}
{{- if .root.Values.image.registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .root.Values.image.registry) $repository }}
{{- end }}
{{- if $svc.image.digest }}
{{- printf "%s@%s" $repository $svc.image.digest }}
{{- else }}
{{- $tag := default .root.Chart.AppVersion $svc.image.tag }}
{{- if eq $tag "latest" }}
{{- fail (printf "services.%s.image.tag: \"latest\" is not allowed; pin a version" (include "convene.serviceKey" .name)) }}
{{- end }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}
{{- end }}

{{/*
The topics a service consumes, from topics.consumers (the registry's consumers:), one per
line. Takes (dict "root" $ "name" "<service>").
*/}}
{{- define "convene.consumedTopics" -}}
{{- $name := .name }}
{{- range $topic, $consumers := .root.Values.topics.consumers }}
{{- if has $name $consumers }}
{{ $topic }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The most replicas a service may run: the smallest partition count of the topics it
consumes (a consumer beyond it holds no partition, and its /readyz says not ready), or 0
when it consumes nothing (no limit).
*/}}
{{- define "convene.maxReplicas" -}}
{{- $limit := 0 }}
{{- range $topic := (include "convene.consumedTopics" . | trim | splitList "\n") }}
{{- if $topic }}
{{- $partitions := index $.root.Values.topics.partitions $topic | default 0 | int }}
{{- if not $partitions }}
{{- fail (printf "topics.partitions: no partition count for %s, which %s consumes" $topic $.name) }}
{{- end }}
{{- if or (eq $limit 0) (lt $partitions $limit) }}
{{- $limit = $partitions }}
{{- end }}
{{- end }}
{{- end }}
{{- $limit }}
{{- end }}

{{/*
Refuses a service's replica counts that its topics' partitions cannot serve: replicas, and
with autoscaling minReplicas and maxReplicas, must not exceed convene.maxReplicas.
*/}}
{{- define "convene.checkReplicas" -}}
{{- $svc := include "convene.serviceValues" . | fromYaml }}
{{- $key := include "convene.serviceKey" .name }}
{{- $limit := include "convene.maxReplicas" . | int }}
{{- if $limit }}
{{- $topics := include "convene.consumedTopics" . | trim | splitList "\n" | join ", " }}
{{- $rule := printf "%s consumes %s: a replica beyond %d partitions holds none and is never ready (README.md, \"Replicas and partitions\")" .name $topics $limit }}
{{- if $svc.autoscaling.enabled }}
{{- if gt (int $svc.autoscaling.maxReplicas) $limit }}
{{- fail (printf "services.%s.autoscaling.maxReplicas is %d, at most %d allowed: %s" $key (int $svc.autoscaling.maxReplicas) $limit $rule) }}
{{- end }}
{{- else if gt (int $svc.replicas) $limit }}
{{- fail (printf "services.%s.replicas is %d, at most %d allowed: %s" $key (int $svc.replicas) $limit $rule) }}
{{- end }}
{{- end }}
{{- if and $svc.autoscaling.enabled (gt (int $svc.autoscaling.minReplicas) (int $svc.autoscaling.maxReplicas)) }}
{{- fail (printf "services.%s.autoscaling.minReplicas is above its maxReplicas" $key) }}
{{- end }}
{{- end }}

{{/*
A MongoDB URL must not carry credentials in values: refused without repeating it (the
error message ends up in CI logs).
*/}}
{{- define "convene.checkMongoUrl" -}}
{{- if regexMatch "^mongodb(\\+srv)?://[^/@]*@" .Values.mongodb.url }}
{{- fail "mongodb.url carries credentials: put the URL in a Secret and name it in mongodb.urlSecret (or services.<name>.mongodbUrlSecret)" }}
{{- end }}
{{- end }}

{{/* Exactly one source of the JWT public key. */}}
{{- define "convene.checkJwt" -}}
{{- $key := .Values.jwt.publicKey }}
{{- if and $key.configMap.name $key.secret.name }}
{{- fail "jwt.publicKey: set configMap.name or secret.name, not both" }}
{{- end }}
{{- if not (or $key.configMap.name $key.secret.name) }}
{{- fail "jwt.publicKey: set configMap.name or secret.name (the gateway's public key)" }}
{{- end }}
{{- end }}

{{/* Where page links point on the default domain (booking-pages' CONVENE_PUBLIC_BASE_URL). */}}
{{- define "convene.publicBaseUrl" -}}
{{- $svc := .Values.services.bookingPages }}
{{- if $svc.publicBaseUrl }}
{{- $svc.publicBaseUrl | trimSuffix "/" }}
{{- else if $svc.ingress.enabled }}
{{- printf "%s://%s" (ternary "https" "http" (ne $svc.ingress.tls.secretName "")) $svc.ingress.host }}
{{- else }}
{{- printf "http://%s:%v" (include "convene.serviceFullname" (dict "root" . "name" "booking-pages")) $svc.port }}
{{- end }}
{{- end }}

{{/*
The environment a service's container gets. Secret values only ever arrive as
secretKeyRef; plain values in services.<name>.env may not shadow the chart's own.
*/}}
{{- define "convene.env" -}}
{{- $root := .root }}
{{- $svc := include "convene.serviceValues" . | fromYaml }}
{{- $key := include "convene.serviceKey" .name }}
{{- $managed := list "CONVENE_SERVICE_NAME" "CONVENE_REPLICA_ID" "CONVENE_HTTP_HOST" "CONVENE_HTTP_PORT" "CONVENE_KAFKA_BOOTSTRAP" "CONVENE_TOPIC_PREFIX" "CONVENE_MONGO_URL" "CONVENE_MONGO_MAX_POOL_SIZE" "CONVENE_MONGO_OPERATION_TIMEOUT_S" "CONVENE_JWT_PUBLIC_KEY_FILE" "CONVENE_JWT_AUDIENCE" "CONVENE_JWT_ISSUER" "CONVENE_LOG_LEVEL" "CONVENE_SHUTDOWN_GRACE_S" "CONVENE_SMTP_HOST" "CONVENE_SMTP_PORT" "CONVENE_SMTP_STARTTLS" "CONVENE_SMTP_USERNAME" "CONVENE_SMTP_PASSWORD" "CONVENE_SMTP_CA_FILE" "CONVENE_MAIL_FROM" "CONVENE_CREDENTIALS_ENCRYPTION_KEY" "CONVENE_INTERNAL_API_TOKENS" "CONVENE_BOOKING_PAGES_SERVICE_TOKEN" "CONVENE_CALENDAR_SYNC_URL" "CONVENE_CALENDAR_SYNC_TOKEN" "CONVENE_PREFILL_SIGNING_KEY" "CONVENE_PUBLIC_BASE_URL" "CONVENE_TRUSTED_PROXIES" }}
{{- range $name, $_ := $svc.env }}
{{- if has $name $managed }}
{{- fail (printf "services.%s.env.%s is set by the chart from its own values (and secrets only from Secrets)" $key $name) }}
{{- end }}
{{- end }}
- name: CONVENE_SERVICE_NAME
  value: {{ .name | quote }}
- name: CONVENE_REPLICA_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: CONVENE_HTTP_HOST
  value: "0.0.0.0"
- name: CONVENE_HTTP_PORT
  value: {{ $svc.port | quote }}
- name: CONVENE_KAFKA_BOOTSTRAP
  value: {{ $root.Values.kafka.bootstrap | quote }}
- name: CONVENE_TOPIC_PREFIX
  value: {{ $root.Values.kafka.topicPrefix | quote }}
{{- $urlSecret := $root.Values.mongodb.urlSecret }}
{{- if $svc.mongodbUrlSecret.name }}
{{- $urlSecret = $svc.mongodbUrlSecret }}
{{- end }}
- name: CONVENE_MONGO_URL
{{- if $urlSecret.name }}
  valueFrom:
    secretKeyRef:
      name: {{ $urlSecret.name }}
      key: {{ $urlSecret.key }}
{{- else }}
  value: {{ $root.Values.mongodb.url | quote }}
{{- end }}
- name: CONVENE_MONGO_MAX_POOL_SIZE
  value: {{ $root.Values.mongodb.maxPoolSize | quote }}
- name: CONVENE_MONGO_OPERATION_TIMEOUT_S
  value: {{ $root.Values.mongodb.operationTimeoutSeconds | quote }}
- name: CONVENE_JWT_PUBLIC_KEY_FILE
  value: /etc/convene/jwt/public.pem
- name: CONVENE_JWT_AUDIENCE
  value: {{ $root.Values.jwt.audience | quote }}
- name: CONVENE_JWT_ISSUER
  value: {{ $root.Values.jwt.issuer | quote }}
- name: CONVENE_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
- name: CONVENE_SHUTDOWN_GRACE_S
  value: {{ $root.Values.shutdownGraceSeconds | quote }}
{{- if eq .name "notifications" }}
{{- with $root.Values.smtp }}
- name: CONVENE_SMTP_HOST
  value: {{ .host | quote }}
- name: CONVENE_SMTP_PORT
  value: {{ .port | quote }}
- name: CONVENE_SMTP_STARTTLS
  value: {{ .starttls | quote }}
- name: CONVENE_MAIL_FROM
  value: {{ .from | quote }}
{{- if .credentialsSecret.name }}
- name: CONVENE_SMTP_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .credentialsSecret.name }}
      key: {{ .credentialsSecret.usernameKey }}
- name: CONVENE_SMTP_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .credentialsSecret.name }}
      key: {{ .credentialsSecret.passwordKey }}
{{- end }}
{{- if .caBundle.name }}
- name: CONVENE_SMTP_CA_FILE
  value: /etc/convene/smtp-ca/ca.pem
{{- end }}
{{- end }}
{{- end }}
{{- if and (eq .name "calendar-sync") $root.Values.credentialsEncryptionKey.secretName }}
- name: CONVENE_CREDENTIALS_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.credentialsEncryptionKey.secretName }}
      key: {{ $root.Values.credentialsEncryptionKey.key }}
{{- end }}
{{- if and (eq .name "calendar-sync") $root.Values.serviceToken.secretName }}
{{- /* calendar-sync accepts booking-pages' token under its name; Kubernetes expands
$(VAR) from the variable above, so the token is only ever in the Secret. */}}
- name: CONVENE_BOOKING_PAGES_SERVICE_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.serviceToken.secretName }}
      key: {{ $root.Values.serviceToken.key }}
- name: CONVENE_INTERNAL_API_TOKENS
  value: "booking-pages:$(CONVENE_BOOKING_PAGES_SERVICE_TOKEN)"
{{- end }}
{{- if eq .name "booking-pages" }}
{{- $calendarSync := dict "root" $root "name" "calendar-sync" }}
- name: CONVENE_CALENDAR_SYNC_URL
  value: {{ printf "http://%s:%v" (include "convene.serviceFullname" $calendarSync) $root.Values.services.calendarSync.port | quote }}
{{- if $root.Values.serviceToken.secretName }}
- name: CONVENE_CALENDAR_SYNC_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.serviceToken.secretName }}
      key: {{ $root.Values.serviceToken.key }}
{{- end }}
{{- if $root.Values.prefillSigningKey.secretName }}
- name: CONVENE_PREFILL_SIGNING_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.prefillSigningKey.secretName }}
      key: {{ $root.Values.prefillSigningKey.key }}
{{- end }}
- name: CONVENE_PUBLIC_BASE_URL
  value: {{ include "convene.publicBaseUrl" $root | quote }}
- name: CONVENE_TRUSTED_PROXIES
  value: {{ $svc.trustedProxies | quote }}
{{- end }}
{{- range $name, $value := $svc.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- range (concat $root.Values.extraEnvFromSecrets $svc.extraEnvFromSecrets) }}
{{- if has .name $managed }}
{{- fail (printf "extraEnvFromSecrets: %s is set by the chart" .name) }}
{{- end }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
{{- end }}
