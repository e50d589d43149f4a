-- Argo CD health of a NerCluster: the value of resource.customizations.health.nerha.dev_NerCluster
-- in argocd-cm. Argo CD runs it with the live object in `obj` (Lua 5.1).
--   Healthy      the operator saw the latest spec, every region is reconciled and ready,
--                and the primary serves (or the cluster runs activeActive)
--   Progressing  no status yet, an older generation, pods still starting
--   Degraded     a failed-over cluster (the standby serves; the reason is in the message),
--                a region the operator cannot reconcile, an invalid spec
local hs = {}

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function message_of(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to apply generation " .. tostring(generation)
  return hs
end

local phase = status.phase
local degraded = condition(status, "Degraded")
local failedOver = condition(status, "FailedOver")

if phase == "Error" then
  hs.status = "Degraded"
  hs.message = message_of(degraded, "The operator cannot reconcile this NerCluster")
  return hs
end

if phase == "FailedOver" or (failedOver ~= nil and failedOver.status == "True") then
  local last = status.lastFailover or {}
  local to = status.activeRegion or last.to or "the standby"
  local text = "Failed over to " .. to
  if last.from ~= nil then
    text = text .. " from " .. last.from
  end
  local reason = last.reason
  if reason == nil and failedOver ~= nil then
    reason = failedOver.message
  end
  if reason ~= nil and reason ~= "" then
    text = text .. ": " .. reason
  end
  hs.status = "Degraded"
  hs.message = text
  return hs
end

if phase == "Degraded" or (degraded ~= nil and degraded.status == "True") then
  hs.status = "Degraded"
  hs.message = message_of(degraded, "A region cannot be reconciled")
  return hs
end

local ready = condition(status, "Ready")
if phase == "Ready" and ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message_of(ready, "Ready")
  return hs
end

hs.status = "Progressing"
hs.message = message_of(ready, message_of(condition(status, "Progressing"), "Phase " .. phase))
return hs
