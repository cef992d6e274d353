namespace EmailPlatform.Standalone;

/// <summary>Configuration section <c>Standalone</c>.</summary>
public sealed class StandaloneOptions
{
    public const string SectionName = "Standalone";

    /// <summary>Where the SQLite database, the generated API key and captured mail live.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>Port of the built-in capture relay on 127.0.0.1 (used when no Delivery:Relays are configured).</summary>
    public int CaptureRelayPort { get; set; } = 2525;

    /// <summary>Whether the API key was generated here (and may be shown) rather than configured.</summary>
    internal bool KeyIsGenerated { get; set; }

    public string MailDirectory => Path.Combine(DataDirectory, "mail");

    public string DatabaseFile => Path.Combine(DataDirectory, "emailplatform.db");

    public string KeyFile => Path.Combine(DataDirectory, "api-key");

    /// <summary>The last moment the host ran (<see cref="HostActivity"/>).</summary>
    public string LastActiveFile => Path.Combine(DataDirectory, "last-active");
}
