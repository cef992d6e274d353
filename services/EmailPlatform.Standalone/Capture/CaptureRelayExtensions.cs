namespace EmailPlatform.Standalone.Capture;

internal static class CaptureRelayExtensions
{
    /// <summary>Runs the capture relay unless real relays are configured (then mail goes there instead).</summary>
    public static IHostApplicationBuilder AddCaptureRelay(this IHostApplicationBuilder builder)
    {
        var relays = builder.Configuration.GetSection("Delivery:Relays").GetChildren();
        if (relays.Any(r => r["Name"] == CaptureRelay.RelayName))
        {
            builder.Services.AddSingleton<CaptureRelay>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<CaptureRelay>());
        }

        return builder;
    }
}
