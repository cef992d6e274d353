using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.ServiceDefaults.Shutdown;
using EmailPlatform.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Scalar.AspNetCore;

namespace EmailPlatform.ServiceDefaults;

/// <summary>What every EmailPlatform host calls first (<see cref="AddServiceDefaults"/>) and right after
/// <c>Build()</c> (<see cref="MapDefaultEndpoints"/>).</summary>
public static class Extensions
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        builder.AddTelemetry();
        builder.AddShutdownTimeout();

        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        builder.Services.AddApiProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(o => WireJson.Configure(o.SerializerOptions));
        // Retries only for safe methods: a retried POST could create something twice.
        builder.Services.ConfigureHttpClientDefaults(http => http.AddStandardResilienceHandler(o => o.Retry.DisableForUnsafeHttpMethods()));
        builder.Services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer<ApiKeyOpenApiTransformer>();
            o.AddOperationTransformer<ApiKeyOpenApiTransformer>();
        });
        return builder;
    }

    /// <summary>
    /// Problem details for every error (exceptions and bare status codes included), health probes and
    /// the Prometheus scrape endpoint. Mapped in every environment: the Kubernetes probes need them.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        if (app.Services.GetService<IAuthenticationSchemeProvider>() is not null)
        {
            // Explicitly after the two above, so a failure in authentication is a problem detail too.
            app.UseAuthentication();
            app.UseAuthorization();
        }

        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag) });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = r => r.Tags.Contains(ReadyTag) });
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapScalarApiReference("/docs", o => o.WithOpenApiRoutePattern("/openapi/{documentName}.json"));
        return app;
    }
}
