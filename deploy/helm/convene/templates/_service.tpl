{{/*
A service's Service, ServiceAccount, PodDisruptionBudget, HorizontalPodAutoscaler and
ServiceMonitor. Each takes (dict "root" $ "name" "<service>") and is used by the file of the
same name in templates/<service>/.
*/}}

{{/* The ClusterIP Service in front of the API, /healthz, /readyz and /metrics. */}}
{{- define "convene.service" -}}
{{- $svc := include "convene.serviceValues" . | fromYaml }}
{{- if $svc.enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "convene.serviceFullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "convene.serviceLabels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "convene.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ $svc.port }}
      targetPort: http
      protocol: TCP
{{- end }}
{{- end }}

{{/* The pods' own ServiceAccount, whose token is never mounted. */}}
{{- define "convene.serviceAccount" -}}
{{- $svc := include "convene.serviceValues" . | fromYaml }}
{{- if and $svc.enabled $svc.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "convene.serviceAccountName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "convene.serviceLabels" . | nindent 4 }}
  {{- with $svc.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end }}

{{/* At most podDisruptionBudget.maxUnavailable pods evicted at once. */}}
{{- define "convene.podDisruptionBudget" -}}
{{- $svc := include "convene.serviceValues" . | fromYaml }}
{{- if and $svc.enabled .root.Values.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "convene.serviceFullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "convene.serviceLabels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .root.Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "convene.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{/* CPU-based autoscaling within [minReplicas, maxReplicas] (checked against partitions). */}}
{{- define "convene.horizontalPodAutoscaler" -}}
{{- $svc := include "convene.serviceValues" . | fromYaml }}
{{- if and $svc.enabled $svc.autoscaling.enabled }}
{{- include "convene.checkReplicas" . }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "convene.serviceFullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "convene.serviceLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "convene.serviceFullname" . }}
  minReplicas: {{ $svc.autoscaling.minReplicas }}
  maxReplicas: {{ $svc.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $svc.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}

{{/* Prometheus Operator's scrape of /metrics (needs the monitoring.coreos.com CRDs). */}}
{{- define "convene.serviceMonitor" -}}
{{- $svc := include "convene.serviceValues" . | fromYaml }}
{{- if and $svc.enabled .root.Values.serviceMonitor.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "convene.serviceFullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "convene.serviceLabels" . | nindent 4 }}
    {{- with .root.Values.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "convene.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .root.Release.Namespace }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ .root.Values.serviceMonitor.interval }}
      scrapeTimeout: {{ .root.Values.serviceMonitor.scrapeTimeout }}
{{- end }}
{{- end }}
