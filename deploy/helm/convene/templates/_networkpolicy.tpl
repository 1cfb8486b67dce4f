{{/*
NetworkPolicies: a service's pods take connections only from the gateway and Prometheus
(booking-pages also from the ingress controller when its public ingress is on; calendar-sync
also from booking-pages, for busy time) and connect only to DNS, Kafka and MongoDB, plus
SMTP (notifications), the calendar providers (calendar-sync) and calendar-sync
(booking-pages).
*/}}

{{/* One egress rule from networkPolicy.egress.<name>: its ports, to its peers (or anywhere). */}}
{{- define "convene.egressRule" -}}
- ports:
    {{- toYaml .ports | nindent 4 }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* One ingress peer from a {namespaceSelector, podSelector} value (both must match). */}}
{{- define "convene.ingressPeer" -}}
- namespaceSelector:
    {{- toYaml .namespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml .podSelector | nindent 4 }}
{{- end }}

{{/* A service's NetworkPolicy. Takes (dict "root" $ "name" "<service>"). */}}
{{- define "convene.networkPolicy" -}}
{{- $svc := include "convene.serviceValues" . | fromYaml }}
{{- $policy := .root.Values.networkPolicy }}
{{- if and $svc.enabled $policy.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "convene.serviceFullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "convene.serviceLabels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "convene.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    - ports:
        - port: http
          protocol: TCP
      from:
        {{- include "convene.ingressPeer" $policy.gateway | nindent 8 }}
        {{- include "convene.ingressPeer" $policy.prometheus | nindent 8 }}
        {{- if and (eq .name "booking-pages") $svc.ingress.enabled }}
        {{- include "convene.ingressPeer" $policy.ingressController | nindent 8 }}
        {{- end }}
        {{- if and (eq .name "calendar-sync") .root.Values.services.bookingPages.enabled }}
        - podSelector:
            matchLabels:
              {{- include "convene.selectorLabels" (dict "root" .root "name" "booking-pages") | nindent 14 }}
        {{- end }}
  egress:
    {{- include "convene.egressRule" $policy.egress.dns | nindent 4 }}
    {{- include "convene.egressRule" $policy.egress.kafka | nindent 4 }}
    {{- include "convene.egressRule" $policy.egress.mongodb | nindent 4 }}
    {{- if eq .name "notifications" }}
    {{- include "convene.egressRule" $policy.egress.smtp | nindent 4 }}
    {{- end }}
    {{- if eq .name "calendar-sync" }}
    {{- include "convene.egressRule" $policy.egress.providers | nindent 4 }}
    {{- end }}
    {{- if and (eq .name "booking-pages") .root.Values.services.calendarSync.enabled }}
    - ports:
        - port: {{ .root.Values.services.calendarSync.port }}
          protocol: TCP
      to:
        - podSelector:
            matchLabels:
              {{- include "convene.selectorLabels" (dict "root" .root "name" "calendar-sync") | nindent 14 }}
    {{- end }}
{{- end }}
{{- end }}
