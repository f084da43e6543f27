// infra/modules/app.bicep: the container app running `mcp-host serve`:
// external HTTPS ingress to port 8000 (Streamable HTTP with SSE; no session
// affinity: sessions are kept in PostgreSQL and any replica serves them),
// HTTP-concurrency scale rule, liveness /healthz and readiness
// /readyz probes, secrets referenced from Key Vault through the user-assigned
// identity, and the Azure Files share mounted read-only at /components.
//
// Configuration is passed as environment variables (every mcp-host flag has
// one); the container's args are just `serve`. The app never sees the admin
// DSN: it logs in as the query role zava_query.

param name string
param location string
param tags object = {}

param environmentId string

@description('Name of the managed environment storage holding the components share.')
param componentsStorageName string

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity (AZURE_CLIENT_ID).')
param identityClientId string

param registryLoginServer string

@description('Full image reference, e.g. <registry>.azurecr.io/zava-mcp-host:<tag>.')
param image string

@description('The app FQDN, <name>.<environment default domain>; known before the app exists.')
param fqdn string

// Key Vault secret URIs (versionless).
param queryPasswordSecretUri string
param rlsSecretSecretUri string

// Identity: Microsoft Entra ID bearer tokens.
param entraTenantId string

@description('Accepted token audiences, comma-separated (client id and/or Application ID URI).')
param entraAudience string

@description('Delegated scopes that admit a caller, comma-separated.')
param entraRequiredScopes string

param entraUserClaim string = 'rls_user_id'

@description('Optional TOML map of Entra object ids to RLS users, e.g. /components/users.toml (empty = none).')
param entraUserMapFile string = ''

// Database.
param postgresFqdn string
@description('Host names of the server\'s read replicas (caller statements spread over them).')
param postgresReplicaFqdns array = []
param databaseName string
param dbPoolSize int = 16
param statementTimeout string = '10s'
param maxRows int = 10000

// Embeddings.
param azureOpenAiEndpoint string
param embeddingDeploymentName string
param azureOpenAiApiVersion string

// Scale.
@minValue(0)
param minReplicas int = 1

@minValue(1)
param maxReplicas int = 10

@description('Concurrent HTTP requests per replica before another replica is added.')
@minValue(1)
param concurrentRequests int = 50

var publicUrl = 'https://${fqdn}'

var baseEnv = [
  // Server.
  {
    name: 'MCP_LISTEN'
    value: '0.0.0.0:8000'
  }
  {
    name: 'MCP_COMPONENTS_DIR'
    value: '/components'
  }
  {
    // Not on the share: the compiled-code cache must be writable only by the host.
    name: 'MCP_CACHE_DIR'
    value: '/tmp/mcp-cache'
  }
  {
    // SMB sends no inotify events; the host rescans the share this often.
    name: 'MCP_POLL_INTERVAL'
    value: '2s'
  }
  {
    // The Host header must be the app's FQDN (checked by the host's guard).
    name: 'MCP_ALLOWED_HOSTS'
    value: fqdn
  }
  {
    name: 'MCP_PUBLIC_URL'
    value: publicUrl
  }
  {
    name: 'MCP_LOG_FORMAT'
    value: 'json'
  }
  {
    // Audit JSON lines to stdout, i.e. to Log Analytics (ContainerAppConsoleLogs).
    name: 'MCP_AUDIT_LOG'
    value: '-'
  }
  {
    name: 'MCP_POLICY_FILE'
    value: '/components/policy.toml'
  }
  {
    name: 'RUST_LOG'
    value: 'info'
  }
  // OTEL_EXPORTER_OTLP_ENDPOINT is not set here: with the environment's
  // managed OpenTelemetry agent enabled (environment.bicep), Container Apps
  // injects it (and OTEL_EXPORTER_OTLP_PROTOCOL=grpc), and the agent forwards
  // traces and logs to Application Insights. Set it explicitly only to use
  // your own collector instead.
  // Identity.
  {
    name: 'MCP_IDENTITY'
    value: 'entra'
  }
  {
    name: 'MCP_ENTRA_TENANT_ID'
    value: entraTenantId
  }
  {
    name: 'MCP_ENTRA_AUDIENCE'
    value: entraAudience
  }
  {
    name: 'MCP_ENTRA_REQUIRED_SCOPES'
    value: entraRequiredScopes
  }
  {
    name: 'MCP_ENTRA_USER_CLAIM'
    value: entraUserClaim
  }
  // Database: the query role only. Azure's server certificate chains to the
  // system CAs, so MCP_PG_CA_FILE is not needed.
  {
    name: 'MCP_QUERY_DATABASE_URL'
    value: 'postgres://zava_query@${postgresFqdn}:5432/${databaseName}?sslmode=require'
  }
  {
    name: 'MCP_QUERY_PASSWORD'
    secretRef: 'query-password'
  }
  {
    name: 'MCP_RLS_SECRET'
    secretRef: 'rls-secret'
  }
  {
    name: 'MCP_DB_POOL_SIZE'
    value: string(dbPoolSize)
  }
  {
    name: 'MCP_STATEMENT_TIMEOUT'
    value: statementTimeout
  }
  {
    name: 'MCP_MAX_ROWS'
    value: string(maxRows)
  }
  // Embeddings: Azure OpenAI with the managed identity (no key).
  {
    name: 'MCP_EMBEDDINGS'
    value: 'azure-openai'
  }
  {
    name: 'AZURE_OPENAI_ENDPOINT'
    value: azureOpenAiEndpoint
  }
  {
    name: 'EMBEDDING_MODEL_DEPLOYMENT_NAME'
    value: embeddingDeploymentName
  }
  {
    name: 'AZURE_OPENAI_API_VERSION'
    value: azureOpenAiApiVersion
  }
  {
    // Picks the user-assigned identity for the managed-identity token request.
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
]

// Read replicas log in as the query role with the same password (roles come
// with the replication stream).
var replicaEnv = empty(postgresReplicaFqdns) ? [] : [
  {
    name: 'MCP_QUERY_REPLICA_URLS'
    value: join(map(postgresReplicaFqdns, fqdn => 'postgres://zava_query@${fqdn}:5432/${databaseName}?sslmode=require'), ',')
  }
]

var userMapEnv = empty(entraUserMapFile) ? [] : [
  {
    name: 'MCP_ENTRA_USER_MAP'
    value: entraUserMapFile
  }
]

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: 8000
        transport: 'http'
        allowInsecure: false
        clientCertificateMode: 'ignore'
        // No session affinity: handshake-era MCP sessions are kept in
        // PostgreSQL (schema zava_sessions) and restored by whichever
        // replica a request reaches.
        traffic: [
          {
            latestRevision: true
            weight: 100
          }
        ]
      }
      registries: [
        {
          server: registryLoginServer
          identity: identityId
        }
      ]
      secrets: [
        {
          name: 'query-password'
          keyVaultUrl: queryPasswordSecretUri
          identity: identityId
        }
        {
          name: 'rls-secret'
          keyVaultUrl: rlsSecretSecretUri
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'mcp-host'
          image: image
          args: [
            'serve'
          ]
          env: concat(baseEnv, replicaEnv, userMapEnv)
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: 8000
                scheme: 'HTTP'
              }
              initialDelaySeconds: 5
              periodSeconds: 15
              timeoutSeconds: 3
              failureThreshold: 3
            }
            {
              // Ready once the initial scan of /components is done.
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
                port: 8000
                scheme: 'HTTP'
              }
              initialDelaySeconds: 2
              periodSeconds: 5
              timeoutSeconds: 3
              failureThreshold: 3
            }
          ]
          volumeMounts: [
            {
              volumeName: 'components'
              mountPath: '/components'
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http-concurrency'
            http: {
              metadata: {
                concurrentRequests: string(concurrentRequests)
              }
            }
          }
        ]
      }
      volumes: [
        {
          name: 'components'
          storageType: 'AzureFile'
          storageName: componentsStorageName
        }
      ]
    }
  }
}

output name string = app.name
output fqdn string = app.properties.configuration.ingress.fqdn
output latestRevisionName string = app.properties.latestRevisionName
