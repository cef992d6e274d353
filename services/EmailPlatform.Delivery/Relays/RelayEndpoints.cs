using EmailPlatform.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Relays;

/// <summary><c>/v1/relays</c> (admin): what this worker is configured to send through. Credentials are never shown.</summary>
internal static class RelayEndpoints
{
    public static RouteGroupBuilder MapRelays(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/relays").RequireAuthorization(ApiKeyScopes.Admin).WithTags("Relays");
        group.MapGet("/", ListRelays).WithName("ListRelays");
        return group;
    }

    internal static Ok<RelayList> ListRelays(IOptions<DeliveryOptions> options) =>
        TypedResults.Ok(new RelayList("list", options.Value.Relays.Select(RelayResponse.From).ToList()));
}
