using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EmailPlatform.ServiceDefaults.Authentication;

public static class AuthenticationExtensions
{
    /// <summary>API-key authentication for the <c>/v1</c> endpoints; the key is validated at start.</summary>
    public static IHostApplicationBuilder AddApiKeyAuthentication(this IHostApplicationBuilder builder)
    {
        // The standalone host composes several services that each ask for it: register once.
        if (builder.Services.Any(d => d.ServiceType == typeof(ApiKeyAuthenticationHandler)))
        {
            return builder;
        }

        builder.Services.AddOptions<AuthOptions>()
            .BindConfiguration(AuthOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        var authorization = builder.Services.AddAuthorizationBuilder();
        foreach (var scope in ApiKeyScopes.All)
        {
            authorization.AddPolicy(scope, policy => policy.RequireAssertion(
                context => ApiKeyIdentity.From(context.User)?.Has(scope) == true));
        }

        return builder;
    }
}
