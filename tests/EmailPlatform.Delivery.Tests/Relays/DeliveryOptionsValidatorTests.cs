using EmailPlatform.Delivery.Relays;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Tests.Relays;

public sealed class DeliveryOptionsValidatorTests
{
    [Fact]
    public void NoRelaysFailsNamingTheKeyToConfigure()
    {
        var result = new DeliveryOptionsValidator().Validate(null, new DeliveryOptions());

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith("Delivery:Relays is empty", StringComparison.Ordinal) && f.Contains("Delivery:Relays:0:Host", StringComparison.Ordinal));
    }

    [Fact]
    public void RelayWithoutHostFailsNamingItsIndex()
    {
        var options = new DeliveryOptions { Relays = [new() { Name = "a", Host = "smtp.a" }, new() { Name = "b" }] };

        var result = new DeliveryOptionsValidator().Validate(null, options);

        Assert.Contains(result.Failures!, f => f.StartsWith("Delivery:Relays:1:Host is required", StringComparison.Ordinal));
    }

    [Fact]
    public void EveryBadValueIsReportedAtOnce()
    {
        var options = new DeliveryOptions
        {
            Relays = [new() { Name = "a", Host = "smtp.a", Port = 70000, MaxConnections = 0, Username = "user", Weight = 0 }, new() { Name = "A", Host = "smtp.b", MaxMessagesPerSecond = 0 }],
            CommandTimeout = TimeSpan.Zero,
            MaxUnrecordedTransactions = 0,
        };

        var failures = new DeliveryOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.StartsWith("Delivery:Relays:0:Port must be between 1 and 65535", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:Relays:0:MaxConnections", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:Relays:0:Password is required", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:Relays:0:Weight", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:Relays:1:Name 'A' is already used by Delivery:Relays:0", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:Relays:1:MaxMessagesPerSecond", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:CommandTimeout", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:MaxUnrecordedTransactions must be at least 1", StringComparison.Ordinal));
    }

    /// <summary>
    /// The final dot's timeout raised to RFC 5321's 10 minutes: a lease left unset grows with it (it used to stay at 10
    /// minutes, shorter than an attempt, and every worker refused to start); one set too short is still refused.
    /// </summary>
    [Fact]
    public void AnUnsetClaimLeaseOutlastsTheLongestAttemptAndOneSetTooShortIsRefused()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:Name"] = "a", ["Delivery:Relays:0:Host"] = "smtp.a", ["Delivery:DataTimeout"] = "00:10:00",
        }).Build();
        var options = configuration.GetSection("Delivery").Get<DeliveryOptions>()!;

        Assert.Equal(TimeSpan.FromSeconds((3 * 30) + (3 * 60) + 600 + 30), options.ClaimLease);
        Assert.True(new DeliveryOptionsValidator().Validate(null, options).Succeeded);
        Assert.Equal(TimeSpan.FromMinutes(10), new DeliveryOptions().ClaimLease);

        configuration["Delivery:ClaimLease"] = "00:10:00";
        var tooShort = configuration.GetSection("Delivery").Get<DeliveryOptions>()!;
        Assert.Equal(TimeSpan.FromMinutes(10), tooShort.ClaimLease);
        Assert.Contains(new DeliveryOptionsValidator().Validate(null, tooShort).Failures!, f => f.StartsWith("Delivery:ClaimLease must be longer", StringComparison.Ordinal));
    }

    [Fact]
    public void RouteWithoutAConditionOrWithAnUnknownRelayFailsNamingItsIndex()
    {
        var options = new DeliveryOptions
        {
            Relays = [new RelayOptions { Name = "shared", Host = "smtp.example" }],
            Routes = [new RouteOptions { Relays = ["shared"] }, new RouteOptions { Tag = "tenant=a", Relays = ["nowhere"] }, new RouteOptions { SenderDomain = "a.example" }],
        };

        var failures = new DeliveryOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.StartsWith("Delivery:Routes:0 needs a condition", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:Routes:1:Relays names 'nowhere'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:Routes:2:Relays is empty", StringComparison.Ordinal));
        Assert.Equal(3, failures.Count);
    }

    [Fact]
    public void BadStatusUrlAndSuppressionCacheDurationFailNamingTheirKeys()
    {
        var options = new DeliveryOptions
        {
            Relays = [new() { Name = "a", Host = "smtp.a" }],
            StatusUrl = new Uri("ftp://status"),
            SuppressionCacheDuration = TimeSpan.FromHours(2),
        };

        var failures = new DeliveryOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.StartsWith("Delivery:StatusUrl must be an absolute http or https URL", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:SuppressionCacheDuration must be between", StringComparison.Ordinal));
        Assert.True(new DeliveryOptionsValidator().Validate(null, new DeliveryOptions
        {
            Relays = [new() { Name = "a", Host = "smtp.a" }], StatusUrl = new Uri("http://status:8080"), SuppressionCacheDuration = TimeSpan.Zero,
        }).Succeeded);
    }

    [Theory]
    [InlineData(RelaySecurity.None)]
    [InlineData(RelaySecurity.Auto)]
    public void CredentialsOnARelayThatMayBePlainTextFailNamingTheSecurityKey(RelaySecurity security)
    {
        var options = new DeliveryOptions { Relays = [new() { Name = "a", Host = "smtp.a", Security = security, Username = "user", Password = "secret" }] };

        var result = new DeliveryOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith("Delivery:Relays:0:Security must be StartTls or SslOnConnect when Delivery:Relays:0:Username is set", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(RelaySecurity.StartTls)]
    [InlineData(RelaySecurity.SslOnConnect)]
    public void CredentialsOnAnEncryptedRelayAreValid(RelaySecurity security)
    {
        var options = new DeliveryOptions { Relays = [new() { Name = "a", Host = "smtp.a", Security = security, Username = "user", Password = "secret" }] };

        Assert.True(new DeliveryOptionsValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData(RelaySecurity.Auto)]
    [InlineData(RelaySecurity.None)]
    [InlineData(RelaySecurity.StartTls)]
    public void RelayOnTheImplicitTlsPortWithoutSslOnConnectFailsNamingTheSecurityKey(RelaySecurity security)
    {
        var options = new DeliveryOptions
        {
            Relays = [new() { Name = "a", Host = "smtp.a", Port = 587 }, new() { Name = "smtps", Host = "smtp.b", Port = 465, Security = security }],
        };

        var failures = new DeliveryOptionsValidator().Validate(null, options).Failures!.ToList();

        var failure = Assert.Single(failures);
        Assert.StartsWith($"Delivery:Relays:1:Security must be SslOnConnect when Delivery:Relays:1:Port is 465 (was {security})", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void RelayOnTheImplicitTlsPortWithSslOnConnectIsValid()
    {
        var options = new DeliveryOptions { Relays = [new() { Name = "smtps", Host = "smtp.b", Port = 465, Security = RelaySecurity.SslOnConnect }] };

        Assert.True(new DeliveryOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void HostWithTheDefaultSecurityOnPort465FailsToStartNamingTheKey()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:Host"] = "smtp.example",
            ["Delivery:Relays:0:Port"] = "465",
            ["ConnectionStrings:Sqlite"] = "Data Source=:memory:",
        });
        builder.AddDelivery();
        using var host = builder.Build();

        var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value);
        Assert.Contains("Delivery:Relays:0:Security must be SslOnConnect when Delivery:Relays:0:Port is 465 (was Auto)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HostWithoutRelaysFailsToStartWithTheMessage()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Sqlite"] = "Data Source=:memory:" });
        builder.AddDelivery();
        using var host = builder.Build();

        var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value);
        Assert.Contains("Delivery:Relays is empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RelaysBindFromConfigurationWithDefaultsAndTheHostAsName()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:Host"] = "smtp.backup.example",
            ["Delivery:Relays:0:Priority"] = "10",
            ["Delivery:Relays:1:Name"] = "primary",
            ["Delivery:Relays:1:Host"] = "smtp.example",
            ["Delivery:Relays:1:Port"] = "587",
            ["Delivery:Relays:1:Security"] = "StartTls",
            ["Delivery:ConnectTimeout"] = "00:00:05",
            ["ConnectionStrings:Sqlite"] = "Data Source=:memory:",
        });
        builder.AddDelivery();
        using var host = builder.Build();

        var options = host.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value;

        Assert.Equal("smtp.backup.example", options.Relays[0].Name);
        Assert.Equal(25, options.Relays[0].Port);
        Assert.Equal(RelaySecurity.Auto, options.Relays[0].Security);
        Assert.Equal(4, options.Relays[0].MaxConnections);
        Assert.Equal(RelaySecurity.StartTls, options.Relays[1].Security);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ConnectTimeout);
        Assert.Equal("primary", RelayRouter.Primary(options).Name);
    }
}
