import t from 'tap'
import { campaignTest } from './simcampaign.js'

t.test('500 seeded runs (seeds 1001..1500), every fault class', async t => {
  campaignTest(t, 1001, 500)
})
