#Requires -RunAsAdministrator
<#
.SYNOPSIS
  Install lbhc as a Windows service (example; adapt paths and settings).

.DESCRIPTION
  Copies lbhc.exe to Program Files, writes an environment file readable only
  by Administrators and SYSTEM (it may hold secrets), opens the probe port in
  Windows Firewall for the load balancer's probe, registers the service with
  `lbhc service install` and starts it.

  The service runs `lbhc.exe service run --name <Name> --env-file <file>`:
  the file (VAR=value lines, the format of /etc/default/lbhc) is read at
  every start, so edit it and Restart-Service to change settings. Logs go to
  the Application event log, source <Name>.

  Remove with:  & "$env:ProgramFiles\lbhc\lbhc.exe" service uninstall --name lbhc
  (stops the service first, so lbhc demotes and releases the lease).

.EXAMPLE
  .\install.ps1 -Binary .\lbhc_v1.0.0_windows_amd64.exe -Vip 10.10.5.200 -VipInterface 'Ethernet 2'
#>
param(
    [Parameter(Mandatory)] [string] $Binary,
    [string] $Name = 'lbhc',
    [string] $Vip = '10.10.5.200',
    [string] $VipInterface = 'Ethernet 2',
    [int]    $ProbePort = 26001,
    [string] $StorageAccount = 'mystorageacct'
)
$ErrorActionPreference = 'Stop'

$dir     = Join-Path $env:ProgramFiles 'lbhc'
$exe     = Join-Path $dir 'lbhc.exe'
$confDir = Join-Path $env:ProgramData 'lbhc'
$envFile = Join-Path $confDir "$Name.env"

New-Item -ItemType Directory -Force -Path $dir, $confDir | Out-Null
Copy-Item -Force $Binary $exe

# Settings: the same LBHC_* variables as on Linux (lbhc.env.example).
# Azure ILB, single region, VIP on a secondary NIC with mask /32.
if (-not (Test-Path $envFile)) {
    @"
LBHC_ELECTION=azblob
LBHC_AZURE_STORAGE_ACCOUNT=$StorageAccount
LBHC_AZURE_CONTAINER=lbhc
LBHC_LEASE_NAME=$Name
LBHC_PROBE_PORT=$ProbePort
LBHC_PROBE_PROTOCOL=tcp
LBHC_VIP=$Vip
LBHC_VIP_MODE=nic
LBHC_VIP_INTERFACE=$VipInterface
LBHC_STATE_DIR=$confDir\$Name
"@ | Set-Content -Encoding ascii -Path $envFile
}
# Administrators and SYSTEM only: the file may hold a storage key.
icacls $confDir /inheritance:r /grant:r '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-18:(OI)(CI)F' | Out-Null

# The Azure probe comes from 168.63.129.16; only the leader listens.
$rule = "lbhc probe $Name"
if (-not (Get-NetFirewallRule -DisplayName $rule -ErrorAction SilentlyContinue)) {
    New-NetFirewallRule -DisplayName $rule -Direction Inbound -Protocol TCP `
        -LocalPort $ProbePort -RemoteAddress 168.63.129.16 -Action Allow | Out-Null
}

& $exe service install --name $Name --env-file $envFile
if ($LASTEXITCODE -ne 0) { throw "lbhc service install failed with exit code $LASTEXITCODE" }
Start-Service -Name $Name
Get-Service -Name $Name
Start-Sleep -Seconds 3   # let the admin API come up
& $exe status
