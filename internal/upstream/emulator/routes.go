package emulator

import (
	"fmt"
	"slices"
)

// Route names, used for counters and fault injection. Each maps to one
// ServeMux pattern.
const (
	RouteV2ListOrgs          = "v2.org.list"
	RouteV2GetServiceAccount = "v2.serviceAccount.get"
	RouteV2CreateKey         = "v2.apiKey.create"
	RouteV2GetKey            = "v2.apiKey.get"
	RouteV2DeleteKey         = "v2.apiKey.delete"

	RouteV2ListServiceAccounts  = "v2.serviceAccount.list"
	RouteV2CreateServiceAccount = "v2.serviceAccount.create"

	RouteV1Status      = "v1.status"
	RouteV1GetUser     = "v1.user.get"
	RouteV1CreateToken = "v1.token.create"
	RouteV1DeleteToken = "v1.token.delete"
	RouteV1RandomToken = "v1.randomToken"

	// RouteUnhandled counts requests no route matched (answered 404, or
	// 501 when so configured).
	RouteUnhandled = "unhandled"
	// RouteAll, as a fault's route, applies it to every API route.
	RouteAll = "*"
)

var apiRoutes = []struct{ name, pattern string }{
	{RouteV2ListOrgs, "GET /api/v2/org"},
	{RouteV2GetServiceAccount, "GET /api/v2/service-account/{id}"},
	{RouteV2CreateKey, "POST /api/v2/service-account/{id}/api-key"},
	{RouteV2GetKey, "GET /api/v2/api-key/{id}"},
	{RouteV2DeleteKey, "DELETE /api/v2/api-key/{id}"},
	{RouteV2ListServiceAccounts, "GET /api/v2/org/{id}/service-account"},
	{RouteV2CreateServiceAccount, "POST /api/v2/org/{id}/service-account"},
	{RouteV1Status, "GET /api/v1/status"},
	{RouteV1GetUser, "GET /api/v1/user/{id}"},
	{RouteV1CreateToken, "POST /api/v1/user/{id}/token"},
	{RouteV1DeleteToken, "DELETE /api/v1/user/{id}/token/{name}"},
	{RouteV1RandomToken, "GET /api/v1/randomToken"},
}

// Routes lists every route name faults may target, RouteAll aside.
func Routes() []string {
	out := make([]string, 0, len(apiRoutes)+1)
	for _, r := range apiRoutes {
		out = append(out, r.name)
	}
	return append(out, RouteUnhandled)
}

func checkRoute(route string) error {
	if route == RouteAll || slices.Contains(Routes(), route) {
		return nil
	}
	return fmt.Errorf("emulator: unknown route %q (want one of %v or %q)", route, Routes(), RouteAll)
}
