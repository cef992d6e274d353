using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Webhooks;

internal static class WebhooksExtensions
{
    public static IServiceCollection AddWebhooks(this IServiceCollection services)
    {
        services.AddOptions<WebhookOptions>()
            .BindConfiguration(WebhookOptions.SectionName)
            .Validate(o => o.Timeout > TimeSpan.Zero && o.Timeout <= TimeSpan.FromMinutes(2), "Webhooks:Timeout must be between 0 and 2 minutes.")
            .Validate(o => o.PollInterval > TimeSpan.Zero, "Webhooks:PollInterval must be positive.")
            .Validate(o => o.BatchSize is > 0 and <= 1000, "Webhooks:BatchSize must be between 1 and 1000.")
            .Validate(o => o.MaxConcurrency is > 0 and <= 256, "Webhooks:MaxConcurrency must be between 1 and 256.")
            .Validate(o => o.MaxConcurrencyPerSubscription is > 0 and <= 256, "Webhooks:MaxConcurrencyPerSubscription must be between 1 and 256.")
            .Validate(o => o.DisableAfterFailures > 0 && o.DisableAfter >= TimeSpan.Zero, "Webhooks:DisableAfterFailures must be positive and Webhooks:DisableAfter not negative.")
            .Validate(o => o.Schedule.All(s => s >= TimeSpan.Zero), "Webhooks:RetrySchedule must hold non-negative durations.")
            .Validate(o => o.DetailsWait >= TimeSpan.Zero && o.DetailsWait <= TimeSpan.FromHours(1), "Webhooks:DetailsWait must be between 0 (no wait) and 1 hour.")
            .ValidateOnStart();

        // The dispatcher owns retries (persisted, over a day): no resilience handler retrying underneath it, no
        // redirects (a redirect could point anywhere), and the private-address check on every connection.
        // RemoveAllResilienceHandlers is marked experimental (EXTEXP0001); it undoes AddServiceDefaults' standard handler.
#pragma warning disable EXTEXP0001
        services.AddHttpClient(WebhookSender.HttpClientName, (sp, http) => http.Timeout = sp.GetRequiredService<IOptions<WebhookOptions>>().Value.Timeout)
            .RemoveAllResilienceHandlers()
#pragma warning restore EXTEXP0001
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var allowPrivate = sp.GetRequiredService<IOptions<WebhookOptions>>().Value.AllowPrivateTargets;
                return new SocketsHttpHandler
                {
                    AllowAutoRedirect = false,
                    // Through a proxy the check would see the proxy's address, not the target's.
                    UseProxy = false,
                    PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                    ConnectCallback = (context, cancellationToken) => WebhookTargets.ConnectAsync(context, allowPrivate, cancellationToken),
                };
            });

        services.AddSingleton<WebhookMetrics>();
        services.AddSingleton<WebhookSender>();
        services.AddScoped<WebhookOutbox>();
        services.AddSingleton<WebhookDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        return services;
    }
}
