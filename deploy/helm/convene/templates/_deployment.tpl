{{/*
A service's Deployment. Takes (dict "root" $ "name" "<service>"); used by
templates/<service>/deployment.yaml.
*/}}
{{- define "convene.deployment" -}}
{{- $root := .root }}
{{- $svc := include "convene.serviceValues" . | fromYaml }}
{{- if $svc.enabled }}
{{- include "convene.checkReplicas" . }}
{{- include "convene.checkMongoUrl" $root }}
{{- include "convene.checkJwt" $root }}
{{- $limit := include "convene.maxReplicas" . | int }}
{{- $replicas := int $svc.replicas }}
{{- if $svc.autoscaling.enabled }}
{{- $replicas = int $svc.autoscaling.maxReplicas }}
{{- end }}
{{- $jwt := $root.Values.jwt.publicKey }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "convene.serviceFullname" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "convene.serviceLabels" . | nindent 4 }}
spec:
  {{- if not $svc.autoscaling.enabled }}
  replicas: {{ $svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "convene.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      {{- /* A surge pod beyond the partitions would hold none and never become ready,
      and the rollout would wait for it forever: at the limit, replace one pod at a time. */}}
      {{- if and $limit (ge $replicas $limit) }}
      maxSurge: 0
      maxUnavailable: 1
      {{- else }}
      maxSurge: 1
      maxUnavailable: 0
      {{- end }}
  template:
    metadata:
      labels:
        {{- include "convene.serviceLabels" . | nindent 8 }}
        {{- with $svc.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $svc.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "convene.serviceAccountName" . }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ add (int $root.Values.shutdownGraceSeconds) 10 }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "convene.image" . | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          ports:
            - name: http
              containerPort: {{ $svc.port }}
              protocol: TCP
          env:
            {{- include "convene.env" . | trim | nindent 12 }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: {{ $root.Values.probes.startup.periodSeconds }}
            timeoutSeconds: {{ $root.Values.probes.startup.timeoutSeconds }}
            failureThreshold: {{ $root.Values.probes.startup.failureThreshold }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: {{ $root.Values.probes.liveness.periodSeconds }}
            timeoutSeconds: {{ $root.Values.probes.liveness.timeoutSeconds }}
            failureThreshold: {{ $root.Values.probes.liveness.failureThreshold }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: {{ $root.Values.probes.readiness.periodSeconds }}
            timeoutSeconds: {{ $root.Values.probes.readiness.timeoutSeconds }}
            failureThreshold: {{ $root.Values.probes.readiness.failureThreshold }}
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: jwt-public-key
              mountPath: /etc/convene/jwt
              readOnly: true
            {{- if and (eq .name "notifications") $root.Values.smtp.caBundle.name }}
            - name: smtp-ca
              mountPath: /etc/convene/smtp-ca
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $root.Values.tmpSizeLimit }}
        - name: jwt-public-key
          {{- if $jwt.secret.name }}
          secret:
            secretName: {{ $jwt.secret.name }}
            items:
              - key: {{ $jwt.secret.key }}
                path: public.pem
          {{- else }}
          configMap:
            name: {{ $jwt.configMap.name }}
            items:
              - key: {{ $jwt.configMap.key }}
                path: public.pem
          {{- end }}
        {{- if and (eq .name "notifications") $root.Values.smtp.caBundle.name }}
        - name: smtp-ca
          configMap:
            name: {{ $root.Values.smtp.caBundle.name }}
            items:
              - key: {{ $root.Values.smtp.caBundle.key }}
                path: ca.pem
        {{- end }}
      {{- if $root.Values.topologySpread.enabled }}
      topologySpreadConstraints:
        {{- range $root.Values.topologySpread.topologyKeys }}
        - topologyKey: {{ . }}
          maxSkew: {{ $root.Values.topologySpread.maxSkew }}
          whenUnsatisfiable: {{ $root.Values.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "convene.selectorLabels" $ | nindent 14 }}
          matchLabelKeys:
            - pod-template-hash
        {{- end }}
      {{- end }}
      {{- with $svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
{{- end }}
