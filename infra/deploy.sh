#!/usr/bin/env bash
# infra/deploy.sh: deploys the Zava MCP host to Azure Container Apps with
# infra/main.bicep. Creates the resource group, generates the secrets on the
# first run (and reads them back from Key Vault afterwards, so they live only
# there), deploys the infrastructure, uploads components-dist/*.wasm to the
# components share, builds the image with `az acr build`, deploys and runs
# the migrate/seed/embed job, deploys the app with the new image, and prints
# the MCP URL and a .vscode/mcp.json entry. `--what-if` only previews.
#
# Needs: az (logged in: az login), openssl, git, tar.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

usage() {
	cat <<'EOF'
Usage: infra/deploy.sh [options]

Options (environment variable in brackets):
  -e, --env NAME             environment name, 2-12 of a-z 0-9 - [AZURE_ENV_NAME, default dev]
  -l, --location REGION      Azure region [AZURE_LOCATION, default eastus2]
  -g, --resource-group RG    resource group [AZURE_RESOURCE_GROUP, default rg-zava-mcp-<env>]
      --audience LIST        accepted token audiences of the app registration, comma-separated,
                             e.g. '<client-id>,api://<client-id>' [MCP_ENTRA_AUDIENCE, required]
      --tenant-id ID         Entra tenant of the tokens [MCP_ENTRA_TENANT_ID, default: az account's]
      --scopes LIST          required delegated scopes [MCP_ENTRA_REQUIRED_SCOPES, default Zava.Read]
      --pg-admin NAME        PostgreSQL admin login [POSTGRES_ADMIN_LOGIN, default zavaadmin]
      --openai-location R    Azure OpenAI region [AZURE_OPENAI_LOCATION, default: --location]
      --image-tag TAG        image tag [IMAGE_TAG, default <utc time>-<git sha>]
      --param KEY=VALUE      any other main.bicep parameter (repeatable), e.g. maxReplicas=20
      --skip-build           do not build; use --image-tag (or the app's current tag)
      --skip-components      do not upload components-dist/*.wasm
      --skip-job             deploy the job but do not run it
      --seed / --no-seed     include `mcp-host seed` in the job run [default: only on the first deploy]
      --what-if              preview the changes (az deployment group what-if) and stop
  -h, --help
EOF
}

die() {
	echo "deploy.sh: $*" >&2
	exit 1
}
note() { echo "==> $*" >&2; }
need_value() { [[ $# -ge 2 && -n ${2:-} ]] || die "$1 needs a value"; }

env_name="${AZURE_ENV_NAME:-dev}"
location="${AZURE_LOCATION:-eastus2}"
resource_group="${AZURE_RESOURCE_GROUP:-}"
audience="${MCP_ENTRA_AUDIENCE:-}"
tenant_id="${MCP_ENTRA_TENANT_ID:-}"
scopes="${MCP_ENTRA_REQUIRED_SCOPES:-Zava.Read}"
pg_admin="${POSTGRES_ADMIN_LOGIN:-zavaadmin}"
openai_location="${AZURE_OPENAI_LOCATION:-}"
image_tag="${IMAGE_TAG:-}"
extra_params=()
what_if=0
skip_build=0
skip_components=0
skip_job=0
seed=auto

while (($#)); do
	case "$1" in
	-e | --env) need_value "$@"; env_name="$2"; shift 2 ;;
	-l | --location) need_value "$@"; location="$2"; shift 2 ;;
	-g | --resource-group) need_value "$@"; resource_group="$2"; shift 2 ;;
	--audience) need_value "$@"; audience="$2"; shift 2 ;;
	--tenant-id) need_value "$@"; tenant_id="$2"; shift 2 ;;
	--scopes) need_value "$@"; scopes="$2"; shift 2 ;;
	--pg-admin) need_value "$@"; pg_admin="$2"; shift 2 ;;
	--openai-location) need_value "$@"; openai_location="$2"; shift 2 ;;
	--image-tag) need_value "$@"; image_tag="$2"; shift 2 ;;
	--param) need_value "$@"; extra_params+=("$2"); shift 2 ;;
	--skip-build) skip_build=1; shift ;;
	--skip-components) skip_components=1; shift ;;
	--skip-job) skip_job=1; shift ;;
	--seed) seed=yes; shift ;;
	--no-seed) seed=no; shift ;;
	--what-if) what_if=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
done

command -v az >/dev/null || die "the Azure CLI (az) is required: https://learn.microsoft.com/cli/azure/install-azure-cli"
command -v openssl >/dev/null || die "openssl is required (it generates the secrets)"
[[ $env_name =~ ^[a-z0-9][a-z0-9-]{1,11}$ ]] || die "--env must be 2-12 of a-z, 0-9, - (got '$env_name')"
[[ $pg_admin =~ ^[a-z][a-z0-9_]{0,62}$ ]] || die "--pg-admin must be a lowercase PostgreSQL identifier (got '$pg_admin')"
resource_group="${resource_group:-rg-zava-mcp-$env_name}"
[[ -n $audience ]] || die "--audience is required: the app registration's client id and Application ID URI, \
e.g. --audience '<client-id>,api://<client-id>' (see infra/README.md)"

az account show -o none 2>/dev/null || die "not logged in to Azure: run az login (and az account set -s <subscription>)"
[[ -n $tenant_id ]] || tenant_id="$(az account show --query tenantId -o tsv)"
note "subscription $(az account show --query name -o tsv), resource group $resource_group, environment $env_name"

# Who is deploying: granted Key Vault Secrets Officer so the next run can
# read the secrets back instead of generating new ones.
deployer_id=""
deployer_type="User"
case "$(az account show --query user.type -o tsv)" in
user)
	deployer_id="$(az ad signed-in-user show --query id -o tsv 2>/dev/null || true)"
	;;
servicePrincipal)
	deployer_type="ServicePrincipal"
	deployer_id="$(az ad sp show --id "$(az account show --query user.name -o tsv)" --query id -o tsv 2>/dev/null || true)"
	;;
esac
[[ -n $deployer_id ]] || note "warning: could not find your Entra object id; you will need read access to the Key Vault secrets to re-deploy"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# ------------------------------------------------------------ resource group

rg_exists="$(az group exists -n "$resource_group")"
if ((what_if)) && [[ $rg_exists != true ]]; then
	note "resource group $resource_group does not exist: a deployment would create it and everything in infra/main.bicep"
	exit 0
fi
if [[ $rg_exists != true ]]; then
	note "creating resource group $resource_group in $location"
	az group create -n "$resource_group" -l "$location" --tags "zava-mcp-env=$env_name" -o none
fi

# ------------------------------------------------------------------- secrets

vault=""
if [[ $rg_exists == true ]]; then
	vault="$(az keyvault list -g "$resource_group" \
		--query "[?tags.\"zava-mcp-env\"=='$env_name'].name | [0]" -o tsv 2>/dev/null || true)"
fi
first_deploy=0
if [[ -n $vault ]]; then
	note "reusing the secrets in Key Vault $vault"
	read_secret() {
		az keyvault secret show --vault-name "$vault" --name "$1" --query value -o tsv 2>/dev/null ||
			die "cannot read secret $1 from Key Vault $vault: you need 'Key Vault Secrets Officer' (or 'Key Vault Secrets User') on it"
	}
	pg_password="$(read_secret postgres-admin-password)"
	query_password="$(read_secret query-password)"
	rls_secret="$(read_secret rls-secret)"
else
	first_deploy=1
	note "first deployment: generating the secrets (they are stored only in Key Vault)"
	# Azure wants three character classes in the admin password; the prefix
	# adds upper case and a symbol, and stays URL-safe for the DSN.
	pg_password="Zv-$(openssl rand -hex 24)"
	query_password="$(openssl rand -hex 32)"
	rls_secret="$(openssl rand -hex 32)"
fi
for value in "$pg_password" "$query_password" "$rls_secret"; do
	[[ $value =~ ^[A-Za-z0-9._~-]{32,}$ ]] || die "a secret read from Key Vault is shorter than 32 characters or has characters \
other than A-Z a-z 0-9 . _ ~ -; fix it in the vault (or delete the vault's secrets to regenerate)"
done

# Secure parameters go through a file (not the command line, which other
# local users can see); removed on exit.
(
	umask 077
	cat >"$tmp/secrets.parameters.json" <<EOF
{
  "\$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "postgresAdminPassword": { "value": "$pg_password" },
    "queryPassword": { "value": "$query_password" },
    "rlsSecret": { "value": "$rls_secret" }
  }
}
EOF
)

params=(
	"environmentName=$env_name"
	"location=$location"
	"entraTenantId=$tenant_id"
	"entraAudience=$audience"
	"entraRequiredScopes=$scopes"
	"postgresAdminLogin=$pg_admin"
)
[[ -z $openai_location ]] || params+=("openAiLocation=$openai_location")
[[ -z $deployer_id ]] || params+=("deployerPrincipalId=$deployer_id" "deployerPrincipalType=$deployer_type")
# (The ${a[@]+...} form keeps bash 3.2, macOS, happy with an empty array.)
params+=(${extra_params[@]+"${extra_params[@]}"})

case "$seed" in
yes) seed_demo=true ;;
no) seed_demo=false ;;
*) if ((first_deploy)); then seed_demo=true; else seed_demo=false; fi ;;
esac

# The app's current image tag (re-deploys without a build keep it).
current_tag() {
	local image
	image="$(az containerapp show -g "$resource_group" -n "zava-mcp-$env_name" \
		--query "properties.template.containers[0].image" -o tsv 2>/dev/null || true)"
	[[ -n $image ]] && echo "${image##*:}"
}

# deploy STAGE TAG: one deployment of main.bicep.
deploy() {
	note "deploying main.bicep, stage $1 (image tag $2)"
	az deployment group create -g "$resource_group" -n "zava-mcp-$env_name-$1" \
		-f "$here/main.bicep" \
		--parameters "@$tmp/secrets.parameters.json" \
		--parameters "${params[@]}" stage="$1" imageTag="$2" seedDemoData="$seed_demo" \
		-o none
}

# output STAGE NAME: an output of that stage's deployment.
output() {
	az deployment group show -g "$resource_group" -n "zava-mcp-$env_name-$1" \
		--query "properties.outputs.$2.value" -o tsv
}

# ------------------------------------------------------------------ what-if

if ((what_if)); then
	tag="${image_tag:-$(current_tag || true)}"
	tag="${tag:-latest}"
	note "what-if for stage all (image tag $tag, seed $seed_demo)"
	az deployment group what-if -g "$resource_group" -n "zava-mcp-$env_name-all" \
		-f "$here/main.bicep" \
		--parameters "@$tmp/secrets.parameters.json" \
		--parameters "${params[@]}" stage=all imageTag="$tag" seedDemoData="$seed_demo"
	exit 0
fi

# --------------------------------------------------------------------- infra

if ((skip_build)); then
	image_tag="${image_tag:-$(current_tag || true)}"
	[[ -n $image_tag ]] || die "--skip-build needs --image-tag (there is no deployed app to take the tag from)"
else
	image_tag="${image_tag:-$(date -u +%Y%m%d%H%M%S)-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo local)}"
fi

# Stage infra leaves an existing job and app as they are.
deploy infra "$image_tag"
registry="$(output infra registryName)"
storage_account="$(output infra storageAccountName)"
share="$(output infra componentsShareName)"
job="$(output infra jobName)"

# ---------------------------------------------------------------- components

if ((skip_components)); then
	note "not uploading components (--skip-components)"
else
	shopt -s nullglob
	wasm=("$repo"/components-dist/*.wasm)
	shopt -u nullglob
	if ((${#wasm[@]} == 0)); then
		note "warning: no components-dist/*.wasm (run scripts/build-components.sh); the share stays as it is"
	else
		note "uploading ${#wasm[@]} component(s) to the $share share of $storage_account"
		storage_key="$(az storage account keys list -g "$resource_group" -n "$storage_account" --query '[0].value' -o tsv)"
		AZURE_STORAGE_ACCOUNT="$storage_account" AZURE_STORAGE_KEY="$storage_key" \
			az storage file upload-batch --destination "$share" --source "$repo/components-dist" \
			--pattern '*.wasm' --no-progress -o none
		# The operator's component policy, if one sits beside the components
		# (once the share has one, components it does not list are refused).
		if [[ -f $repo/components-dist/policy.toml ]]; then
			note "uploading components-dist/policy.toml"
			AZURE_STORAGE_ACCOUNT="$storage_account" AZURE_STORAGE_KEY="$storage_key" \
				az storage file upload --share-name "$share" --source "$repo/components-dist/policy.toml" \
				--path policy.toml --no-progress -o none
		fi
	fi
fi

# --------------------------------------------------------------------- image

if ((skip_build)); then
	note "not building (--skip-build): using tag $image_tag"
else
	# A clean build context: the files git knows about (tracked and untracked,
	# minus .gitignore), not target/ (tens of GB) or .zava/.
	git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
		die "$repo is not a git checkout; cannot assemble a clean build context"
	context="$tmp/context"
	mkdir -p "$context"
	(
		cd "$repo"
		git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' file; do
				if [[ -e $file ]]; then printf '%s\0' "$file"; fi
			done |
			tar --null -T - -cf -
	) | tar -xf - -C "$context"
	note "building zava-mcp-host:$image_tag in $registry (az acr build; the Rust build takes a while)"
	(cd "$context" && az acr build --registry "$registry" --image "zava-mcp-host:$image_tag" \
		--file Dockerfile --platform linux/amd64 --timeout 7200 .)
fi

# ----------------------------------------------------------------------- job

deploy job "$image_tag"

run_job() {
	local execution status deadline
	note "starting job $job (migrate$([[ $seed_demo == true ]] && echo ', seed'), embed)"
	execution="$(az containerapp job start -g "$resource_group" -n "$job" --query name -o tsv)"
	if [[ -z $execution ]]; then
		execution="$(az containerapp job execution list -g "$resource_group" -n "$job" \
			--query "sort_by(@, &properties.startTime)[-1].name" -o tsv)"
	fi
	deadline=$((SECONDS + 3600))
	while :; do
		status="$(az containerapp job execution show -g "$resource_group" -n "$job" \
			--job-execution-name "$execution" --query properties.status -o tsv 2>/dev/null || echo Unknown)"
		case "$status" in
		Succeeded)
			note "job execution $execution succeeded"
			return 0
			;;
		Failed | Stopped | Degraded)
			die "job execution $execution: $status. Logs: az containerapp job logs show -g $resource_group -n $job \
--execution $execution --container <migrate|seed|embed>, or Log Analytics (ContainerAppConsoleLogs_CL)"
			;;
		esac
		((SECONDS < deadline)) || die "job execution $execution still $status after an hour"
		sleep 15
	done
}

if ((skip_job)); then
	note "not running the job (--skip-job)"
else
	run_job
fi

# ----------------------------------------------------------------------- app

deploy all "$image_tag"
mcp_url="$(output all mcpUrl)"

cat <<EOF

MCP endpoint: $mcp_url
  (Microsoft Entra sign-in; VS Code follows the 401 to the tenant by itself)

.vscode/mcp.json entry (inside "servers"):
    "zava-azure-$env_name": {
      "type": "http",
      "url": "$mcp_url"
    }

Components: drop a .wasm into the '$share' share of storage account $storage_account;
every replica picks it up within a few seconds (see infra/README.md).
EOF
if [[ $seed_demo == false ]] && ((!skip_job)); then
	echo "The job ran without seed; if the database is empty, run: infra/deploy.sh -e $env_name --seed --skip-build --skip-components ..."
fi
