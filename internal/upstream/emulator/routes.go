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

	RouteV2ListNetworks       = "v2.network.list"
	RouteV2CreateNetwork      = "v2.network.create"
	RouteV2GetNetwork         = "v2.network.get"
	RouteV2UpdateNetwork      = "v2.network.update"
	RouteV2DeleteNetwork      = "v2.network.delete"
	RouteV2ListMembers        = "v2.member.list"
	RouteV2AddMembers         = "v2.member.add"
	RouteV2DeleteMembers      = "v2.member.deleteBulk"
	RouteV2AuthorizeMembers   = "v2.member.authorizeBulk"
	RouteV2DeauthorizeMembers = "v2.member.deauthorizeBulk"
	RouteV2RejectMembers      = "v2.member.rejectBulk"
	RouteV2GetMember          = "v2.member.get"
	RouteV2UpdateMember       = "v2.member.update"
	RouteV2AuthorizeMember    = "v2.member.authorize"
	RouteV2DeauthorizeMember  = "v2.member.deauthorize"
	RouteV2RejectMember       = "v2.member.reject"

	RouteV1Status      = "v1.status"
	RouteV1GetUser     = "v1.user.get"
	RouteV1CreateToken = "v1.token.create"
	RouteV1DeleteToken = "v1.token.delete"
	RouteV1RandomToken = "v1.randomToken"

	RouteV1ListNetworks  = "v1.network.list"
	RouteV1CreateNetwork = "v1.network.create"
	RouteV1GetNetwork    = "v1.network.get"
	RouteV1UpdateNetwork = "v1.network.update"
	RouteV1DeleteNetwork = "v1.network.delete"
	RouteV1ListMembers   = "v1.member.list"
	RouteV1GetMember     = "v1.member.get"
	RouteV1UpdateMember  = "v1.member.update"
	RouteV1DeleteMember  = "v1.member.delete"

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
	{RouteV2ListNetworks, "GET /api/v2/network"},
	{RouteV2CreateNetwork, "POST /api/v2/network-group/{id}/network"},
	{RouteV2GetNetwork, "GET /api/v2/network/{id}"},
	{RouteV2UpdateNetwork, "POST /api/v2/network/{id}"},
	{RouteV2DeleteNetwork, "DELETE /api/v2/network/{id}"},
	{RouteV2ListMembers, "GET /api/v2/network/{id}/member"},
	{RouteV2AddMembers, "POST /api/v2/network/{id}/member"},
	{RouteV2DeleteMembers, "DELETE /api/v2/network/{id}/member"},
	{RouteV2AuthorizeMembers, "POST /api/v2/network/{id}/member/authorize"},
	{RouteV2DeauthorizeMembers, "POST /api/v2/network/{id}/member/de-authorize"},
	{RouteV2RejectMembers, "POST /api/v2/network/{id}/member/reject"},
	{RouteV2GetMember, "GET /api/v2/network/{id}/member/{device}"},
	{RouteV2UpdateMember, "POST /api/v2/network/{id}/member/{device}"},
	{RouteV2AuthorizeMember, "POST /api/v2/network/{id}/member/{device}/authorize"},
	{RouteV2DeauthorizeMember, "POST /api/v2/network/{id}/member/{device}/de-authorize"},
	{RouteV2RejectMember, "POST /api/v2/network/{id}/member/{device}/reject"},
	{RouteV1Status, "GET /api/v1/status"},
	{RouteV1GetUser, "GET /api/v1/user/{id}"},
	{RouteV1CreateToken, "POST /api/v1/user/{id}/token"},
	{RouteV1DeleteToken, "DELETE /api/v1/user/{id}/token/{name}"},
	{RouteV1RandomToken, "GET /api/v1/randomToken"},
	{RouteV1ListNetworks, "GET /api/v1/network"},
	{RouteV1CreateNetwork, "POST /api/v1/network"},
	{RouteV1GetNetwork, "GET /api/v1/network/{id}"},
	{RouteV1UpdateNetwork, "POST /api/v1/network/{id}"},
	{RouteV1DeleteNetwork, "DELETE /api/v1/network/{id}"},
	{RouteV1ListMembers, "GET /api/v1/network/{id}/member"},
	{RouteV1GetMember, "GET /api/v1/network/{id}/member/{member}"},
	{RouteV1UpdateMember, "POST /api/v1/network/{id}/member/{member}"},
	{RouteV1DeleteMember, "DELETE /api/v1/network/{id}/member/{member}"},
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
