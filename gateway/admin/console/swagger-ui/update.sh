#!/usr/bin/env bash
# Refreshes the embedded OpenAPI viewer from the npm registry's
# swagger-ui-dist release (Apache-2.0): the bundle, its styles and its
# licenses, nothing else. Usage: gateway/admin/console/swagger-ui/update.sh [version]
set -euo pipefail
version=${1:-5.36.0}
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-"$version".tgz)
for f in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt; do
  cp "$tmp/package/$f" "$dir/$f"
done
# The bundle names its source map, which is not shipped: drop the comment
# so browsers do not ask the admin listener for it.
sed -i '/^\/\/# sourceMappingURL=/d' "$dir/swagger-ui-bundle.js"
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' "$dir/swagger-ui.css"
echo "$version" > "$dir/VERSION"
echo "swagger-ui-dist $version in $dir"
