{{- define "alo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "alo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "alo.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "alo.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "alo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "alo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "alo.labels" -}}
{{ include "alo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "alo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "alo.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "alo.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The namespace watched in namespace scope. */}}
{{- define "alo.watchNamespace" -}}
{{- default .Release.Namespace .Values.watch.namespace -}}
{{- end -}}

{{/* The rules on the watched resources (kept in step with examples/operator-install.yaml). */}}
{{- define "alo.watchRules" -}}
# patch: the finalizer of a link with deletionPolicy Delete and DynamoDB
# (metadata.finalizers only; the spec is never written).
- apiGroups: [skilllink.dev]
  resources: [alexaskilllinks]
  verbs: [get, list, watch, patch]
- apiGroups: [skilllink.dev]
  resources: [alexaskilllinks/status]
  verbs: [get, patch, update]
# Children carry owner references with blockOwnerDeletion; clusters with the
# OwnerReferencesPermissionEnforcement admission plugin (e.g. OpenShift)
# require update on the owner's finalizers for that.
- apiGroups: [skilllink.dev]
  resources: [alexaskilllinks/finalizers]
  verbs: [update]
# Children: created and updated by server-side apply, deleted when unwanted.
# Secrets are among them: the operator generates `<name>-keys`.
- apiGroups: [""]
  resources: [configmaps, secrets, services, serviceaccounts, persistentvolumeclaims]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [networking.k8s.io]
  resources: [ingresses, networkpolicies]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [cert-manager.io]
  resources: [certificates]
  verbs: [get, list, watch, create, patch, update, delete]
# Deleting a link's DynamoDB items (deletionPolicy Delete): a purge Job.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, create, delete]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{/* "true" when replicas take a leader-election Lease. */}}
{{- define "alo.leaderElect" -}}
{{- $e := .Values.leaderElection.enabled -}}
{{- if kindIs "bool" $e -}}{{ $e }}{{- else -}}{{ gt (int .Values.replicaCount) 1 }}{{- end -}}
{{- end -}}
