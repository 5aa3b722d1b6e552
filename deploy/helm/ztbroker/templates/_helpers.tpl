{{/* Names and labels. */}}
{{- define "ztbroker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ztbroker.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ztbroker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ztbroker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ztbroker.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ztbroker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "ztbroker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ztbroker.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ztbroker.secretName" -}}
{{- default (include "ztbroker.fullname" .) .Values.secrets.name -}}
{{- end -}}

{{- define "ztbroker.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The broker's configuration: .Values.config with the listen addresses the
chart's ports and probes depend on. Refuses settings that would leave the
pods unreachable or unprobed.
*/}}
{{- define "ztbroker.config" -}}
{{- $cfg := deepCopy (required "config is required: the broker's configuration file" .Values.config) -}}
{{- $listen := deepCopy (default (dict) $cfg.listen) -}}
{{- if or (hasKey $listen "grpc_addr") (hasKey $listen "http_addr") -}}
{{- fail "config.listen.grpc_addr and config.listen.http_addr are set by the chart: use ports.grpc and ports.http" -}}
{{- end -}}
{{- if and $listen.tls (eq (toString $listen.tls.client_auth) "require") -}}
{{- fail "config.listen.tls.client_auth: require refuses the kubelet's probes and Prometheus, which send no client certificate; use request (mTLS callers are still verified)" -}}
{{- end -}}
{{- $_ := set $listen "grpc_addr" (printf ":%d" (int .Values.ports.grpc)) -}}
{{- $_ := set $listen "http_addr" (printf ":%d" (int .Values.ports.http)) -}}
{{- $_ := set $cfg "listen" $listen -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* HTTPS when the broker's listeners serve TLS. */}}
{{- define "ztbroker.httpScheme" -}}
{{- if and .Values.config.listen .Values.config.listen.tls -}}HTTPS{{- else -}}HTTP{{- end -}}
{{- end -}}

{{/*
What the broker and the migration share: the configuration, the secrets
and any extra volumes.
*/}}
{{- define "ztbroker.env" -}}
{{- range $name, $key := .Values.secrets.env }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "ztbroker.secretName" $ }}
      key: {{ $key }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "ztbroker.volumeMounts" -}}
- name: config
  mountPath: /etc/ztbroker/config
  readOnly: true
{{- if .Values.secrets.files }}
- name: secrets
  mountPath: /etc/ztbroker/secrets
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}
