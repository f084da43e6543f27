// infra/modules/job.bicep: the Container Apps job (manual trigger) that
// prepares the database with the app's image: init containers run in order,
// `mcp-host migrate` (roles, schema, RLS; idempotent), then, when
// seedDemoData is true, `mcp-host seed` (the Zava demo data; it refuses a
// database that already holds data, so deploy.sh only includes it on the
// first deployment or with --seed), and finally the main container
// `mcp-host embed` (product embeddings with Azure OpenAI; idempotent and
// resumable). The admin DSN exists only here, as a Key Vault reference.

param name string
param location string
param tags object = {}

param environmentId string

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity (AZURE_CLIENT_ID).')
param identityClientId string

param registryLoginServer string
param image string

// Key Vault secret URIs (versionless).
param databaseUrlSecretUri string
param queryPasswordSecretUri string
param rlsSecretSecretUri string

@description('Include the `seed` step (fails if the database already holds data).')
param seedDemoData bool = true

@description('Size of the demo data relative to the full set (MCP_SEED_SCALE).')
param seedScale string = '1.0'

param azureOpenAiEndpoint string
param embeddingDeploymentName string
param azureOpenAiApiVersion string

@description('Longest one execution may run, in seconds.')
param replicaTimeoutSeconds int = 1800

var commonEnv = [
  {
    name: 'DATABASE_URL'
    secretRef: 'database-url'
  }
  {
    // migrate stores its hash; seed and embed need it to resolve the database.
    name: 'MCP_RLS_SECRET'
    secretRef: 'rls-secret'
  }
  {
    name: 'MCP_LOG_FORMAT'
    value: 'json'
  }
  {
    name: 'RUST_LOG'
    value: 'info'
  }
]

var migrateContainer = {
  name: 'migrate'
  image: image
  args: [
    'migrate'
  ]
  env: concat(commonEnv, [
    {
      // migrate sets the query role's password to this.
      name: 'MCP_QUERY_PASSWORD'
      secretRef: 'query-password'
    }
  ])
  resources: {
    cpu: json('0.5')
    memory: '1Gi'
  }
}

var seedContainer = {
  name: 'seed'
  image: image
  args: [
    'seed'
  ]
  env: concat(commonEnv, [
    {
      name: 'MCP_SEED_SCALE'
      value: seedScale
    }
  ])
  resources: {
    cpu: json('0.5')
    memory: '1Gi'
  }
}

var initContainers = seedDemoData ? [
  migrateContainer
  seedContainer
] : [
  migrateContainer
]

resource job 'Microsoft.App/jobs@2024-03-01' = {
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
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: replicaTimeoutSeconds
      replicaRetryLimit: 0
      manualTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
      }
      registries: [
        {
          server: registryLoginServer
          identity: identityId
        }
      ]
      secrets: [
        {
          name: 'database-url'
          keyVaultUrl: databaseUrlSecretUri
          identity: identityId
        }
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
      initContainers: initContainers
      containers: [
        {
          name: 'embed'
          image: image
          args: [
            'embed'
          ]
          env: concat(commonEnv, [
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
              name: 'AZURE_CLIENT_ID'
              value: identityClientId
            }
          ])
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
        }
      ]
    }
  }
}

output name string = job.name
